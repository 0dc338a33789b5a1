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

// A pod naming a NAD that does not exist waits, with a NoNetworkFound
// event naming the NAD; creating the NAD lets the same pod start (kubelet
// retries the sandbox) with the attachment.
func TestMissingNAD(t *testing.T) {
	var pod *corev1.Pod
	f := features.New("missing-nad").
		WithLabel("area", "attach").
		WithLabel("profile", "upstream").
		WithLabel("kind", "negative").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			pod = createPod(ctx, t, "waits-for-nad", workers[0], "macvlan-low")
			return ctx
		}).
		Assess("the pod waits with a NoNetworkFound event naming the NAD", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ev, err := lab.WaitEvent(ctx, pod, eventTimeout, func(e corev1.Event) bool {
				return e.Reason == "NoNetworkFound" && e2eutil.IsWarningWith("macvlan-low", namespace(ctx))(e)
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("event: %s", ev.Message)
			if p := getPod(ctx, t, pod); p.Status.Phase != corev1.PodPending {
				t.Errorf("pod phase %s, want Pending while its NAD is missing", p.Status.Phase)
			}
			return ctx
		}).
		Assess("creating the NAD lets the pod start with net1", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			createNAD(ctx, t, "nad/macvlan-hostlocal-low.yaml")
			pod = readyPod(ctx, t, pod)
			checkAttachments(ctx, t, pod, []e2eutil.Want{
				clusterWant(nodeFlannel(ctx, t, workers[0])),
				{Interface: "net1", Network: namespace(ctx) + "/macvlan-low", InPrefix: []netip.Prefix{macvlanNet}},
			})
			return ctx
		}).
		Feature()
	testenv.Test(t, f)
}
