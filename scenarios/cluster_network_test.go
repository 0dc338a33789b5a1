//go:build e2e

package scenarios

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/multus-thick/multus-thick/scenarios/internal/e2eutil"
)

// A pod without a networks annotation gets only the cluster network: the
// flannel plugin, run by the daemon chrooted into the node, reads the
// node's /run/flannel/subnet.env and delegates to bridge + host-local.
func TestClusterNetwork(t *testing.T) {
	var a, b *corev1.Pod
	f := features.New("cluster-network").
		WithLabel("area", "attach").
		WithLabel("profile", "upstream").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			a = createPod(ctx, t, "flannel-a", workers[0], "")
			b = createPod(ctx, t, "flannel-b", workers[1], "")
			return ctx
		}).
		Assess("eth0 is flannel's, with the node's subnet and routes, and nothing else", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			for i, p := range []*corev1.Pod{a, b} {
				p = readyPod(ctx, t, p)
				fe := nodeFlannel(ctx, t, workers[i])
				want := clusterWant(fe)
				want.IPs = []string{p.Status.PodIP}
				got := checkAttachments(ctx, t, p, []e2eutil.Want{want})
				if r, w := routesOn(got.Netns, "eth0"), flannelRoutes(fe, true); !equalStrings(r, w) {
					t.Errorf("pod %s: eth0 routes %v, want %v", p.Name, r, w)
				}
				if len(got.Netns.Routes) != 3 {
					t.Errorf("pod %s: routes %v, want only flannel's three", p.Name, got.Netns.Routes)
				}
			}
			return ctx
		}).
		Assess("reaches the pod on the other worker over eth0", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			pingUntil(ctx, t, a, getPod(ctx, t, b).Status.PodIP, "eth0")
			pingUntil(ctx, t, b, getPod(ctx, t, a).Status.PodIP, "eth0")
			return ctx
		}).
		Feature()
	testenv.Test(t, f)
}
