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

// The JSON form with "ips" and "mac": the runtime config reaches static
// IPAM and tuning through their capabilities, and the pod ends up with
// exactly that address and MAC.
func TestStaticIPAndMACJSONForm(t *testing.T) {
	const (
		ip  = "10.78.0.21"
		mac = "02:6d:74:00:00:21"
	)
	var pod *corev1.Pod
	f := features.New("static-ip-mac-json-form").
		WithLabel("area", "attach").
		WithLabel("profile", "upstream").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			createNAD(ctx, t, "nad/macvlan-static-tuning.yaml")
			pod = createPod(ctx, t, "static", workers[0],
				`[{"name":"macvlan-static","interface":"net1","ips":["`+ip+`/24"],"mac":"`+mac+`"}]`)
			return ctx
		}).
		Assess("net1 has exactly the requested address and MAC", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			pod = readyPod(ctx, t, pod)
			got := checkAttachments(ctx, t, pod, []e2eutil.Want{
				clusterWant(nodeFlannel(ctx, t, workers[0])),
				{Interface: "net1", Network: namespace(ctx) + "/macvlan-static", IPs: []string{ip}, MAC: mac},
			})
			l, ok := got.Netns.Links["net1"]
			if !ok {
				t.Fatal("no net1 in the netns")
			}
			if l.MAC != mac || len(l.Addrs) != 1 || l.Addrs[0].String() != ip+"/24" {
				t.Errorf("net1 in the netns: mac %s addrs %v, want %s and %s/24", l.MAC, l.Addrs, mac, ip)
			}
			return ctx
		}).
		Feature()
	testenv.Test(t, f)
}
