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

// "default-route" moves the pod's default route to net1 through the named
// gateway; the cluster network loses only its default route and keeps the
// cluster route and its connected subnet. A second pod on the same NAD
// without default-route keeps its flannel default.
func TestDefaultRouteOnAttachment(t *testing.T) {
	const gw = "10.78.0.254"
	var moved, kept *corev1.Pod
	f := features.New("default-route").
		WithLabel("area", "attach").
		WithLabel("profile", "upstream").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			createNAD(ctx, t, "nad/macvlan-static-tuning.yaml")
			moved = createPod(ctx, t, "route-moved", workers[0],
				`[{"name":"macvlan-static","ips":["10.78.0.31/24"],"default-route":["`+gw+`"]}]`)
			kept = createPod(ctx, t, "route-kept", workers[0],
				`[{"name":"macvlan-static","ips":["10.78.0.32/24"]}]`)
			return ctx
		}).
		Assess("the only default route goes via the gateway on net1", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			fe := nodeFlannel(ctx, t, workers[0])
			moved = readyPod(ctx, t, moved)
			got := checkAttachments(ctx, t, moved, []e2eutil.Want{
				clusterWant(fe),
				{Interface: "net1", Network: namespace(ctx) + "/macvlan-static", IPs: []string{"10.78.0.31"}},
			})
			if d := got.Netns.Defaults(); len(d) != 1 || d[0].Via != gw || d[0].Dev != "net1" {
				t.Errorf("default routes %v, want exactly: default via %s dev net1", d, gw)
			}
			if r, w := routesOn(got.Netns, "eth0"), flannelRoutes(fe, false); !equalStrings(r, w) {
				t.Errorf("eth0 routes %v, want the cluster routes without the default %v", r, w)
			}
			if r := routesOn(got.Netns, "net1"); !equalStrings(r, []string{"10.78.0.0/24 dev net1", "default via " + gw + " dev net1"}) {
				t.Errorf("net1 routes %v, want its subnet and the default", r)
			}
			return ctx
		}).
		Assess("a pod without default-route keeps flannel's default", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			fe := nodeFlannel(ctx, t, workers[0])
			kept = readyPod(ctx, t, kept)
			got := checkAttachments(ctx, t, kept, []e2eutil.Want{
				clusterWant(fe),
				{Interface: "net1", Network: namespace(ctx) + "/macvlan-static", IPs: []string{"10.78.0.32"}},
			})
			if r, w := routesOn(got.Netns, "eth0"), flannelRoutes(fe, true); !equalStrings(r, w) {
				t.Errorf("eth0 routes %v, want %v", r, w)
			}
			if r := routesOn(got.Netns, "net1"); !equalStrings(r, []string{"10.78.0.0/24 dev net1"}) {
				t.Errorf("net1 routes %v, want only its subnet", r)
			}
			return ctx
		}).
		Feature()
	testenv.Test(t, f)
}
