//go:build e2e

package scenarios

import (
	"context"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/multus-thick/multus-thick/scenarios/internal/e2eutil"
)

// Several attachments in the text form with explicit namespaces and
// interface names ("ns/name@ifname"): each lands under its own name, in
// annotation order, from the right delegate.
func TestMultipleAttachmentsTextForm(t *testing.T) {
	var pod *corev1.Pod
	f := features.New("multi-attach-text-form").
		WithLabel("area", "attach").
		WithLabel("profile", "upstream").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ns := namespace(ctx)
			createNAD(ctx, t, "nad/macvlan-hostlocal-low.yaml")
			createNAD(ctx, t, "nad/bridge-hostlocal.yaml")
			pod = createPod(ctx, t, "multi", workers[0],
				ns+"/macvlan-low@data0, "+ns+"/bridge-local@data1,"+ns+"/macvlan-low@data2")
			return ctx
		}).
		Assess("eth0, data0, data1 and data2 exist with the annotation's names and agree", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ns := namespace(ctx)
			pod = readyPod(ctx, t, pod)
			got := checkAttachments(ctx, t, pod, []e2eutil.Want{
				clusterWant(nodeFlannel(ctx, t, workers[0])),
				{Interface: "data0", Network: ns + "/macvlan-low", InPrefix: []netip.Prefix{macvlanNet}},
				{Interface: "data1", Network: ns + "/bridge-local", InPrefix: []netip.Prefix{bridgeNet}},
				{Interface: "data2", Network: ns + "/macvlan-low", InPrefix: []netip.Prefix{macvlanNet}},
			})
			if names := got.Netns.Names(); !equalStrings(names, []string{"data0", "data1", "data2", "eth0"}) {
				t.Errorf("netns interfaces %v, want exactly eth0 data0 data1 data2 (no default net1/net2 names)", names)
			}
			// The same NAD twice gives two distinct leases, one per interface.
			d0, _ := e2eutil.Entry(got.Status, "data0")
			d2, _ := e2eutil.Entry(got.Status, "data2")
			if len(d0.IPs) == 1 && len(d2.IPs) == 1 && d0.IPs[0] == d2.IPs[0] {
				t.Errorf("data0 and data2 share address %s", d0.IPs[0])
			}
			return ctx
		}).
		Feature()
	testenv.Test(t, f)
}
