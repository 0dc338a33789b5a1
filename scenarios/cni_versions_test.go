//go:build e2e

package scenarios

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/multus-thick/multus-thick/scenarios/internal/e2eutil"
)

// cniVersions are the NAD cniVersions the daemon must handle for the same
// macvlan attachment (results converted to what the annotation needs).
var cniVersions = []string{"0.3.1", "0.4.0", "1.0.0", "1.1.0"}

// The same macvlan attachment at every NAD cniVersion: each pod gets net1
// with a host-local address, and the oracles agree.
func TestCNIVersions(t *testing.T) {
	pods := map[string]*corev1.Pod{}
	nadName := func(v string) string { return "macvlan-v" + strings.ReplaceAll(v, ".", "") }
	b := features.New("cni-versions").
		WithLabel("area", "attach").
		WithLabel("profile", "upstream").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			for _, v := range cniVersions {
				createNAD(ctx, t, "nad/macvlan-hostlocal-low.yaml", e2eutil.Named(nadName(v)),
					e2eutil.NADConfig(func(c map[string]any) { c["cniVersion"] = v }))
				pods[v] = createPod(ctx, t, "cni-"+strings.ReplaceAll(v, ".", "-"), workers[0], nadName(v))
			}
			return ctx
		})
	for _, v := range cniVersions {
		b = b.Assess("cniVersion "+v+": net1 from host-local, oracles agree", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			p := readyPod(ctx, t, pods[v])
			checkAttachments(ctx, t, p, []e2eutil.Want{
				clusterWant(nodeFlannel(ctx, t, workers[0])),
				{Interface: "net1", Network: namespace(ctx) + "/" + nadName(v), InPrefix: []netip.Prefix{macvlanNet}},
			})
			return ctx
		})
	}
	testenv.Test(t, b.Feature())
}
