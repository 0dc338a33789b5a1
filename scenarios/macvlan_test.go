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

// One macvlan attachment by short name: net1 with a host-local address,
// and two pods on two nodes reach each other over it.
func TestMacvlanAttachment(t *testing.T) {
	var a, b *corev1.Pod
	var ipA, ipB string
	f := features.New("macvlan-attachment").
		WithLabel("area", "attach").
		WithLabel("profile", "upstream").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			createNAD(ctx, t, "nad/macvlan-hostlocal-low.yaml")
			createNAD(ctx, t, "nad/macvlan-hostlocal-high.yaml")
			a = createPod(ctx, t, "macvlan-a", workers[0], "macvlan-low")
			b = createPod(ctx, t, "macvlan-b", workers[1], "macvlan-high")
			return ctx
		}).
		Assess("net1 has a host-local address and the annotation agrees with the netns", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ns := namespace(ctx)
			for i, c := range []struct {
				pod   *corev1.Pod
				nad   string
				net   string
				lo    string
				hi    string
				ipOut *string
			}{
				{a, "macvlan-low", "mt-macvlan-low", "10.77.0.10", "10.77.0.99", &ipA},
				{b, "macvlan-high", "mt-macvlan-high", "10.77.0.100", "10.77.0.199", &ipB},
			} {
				p := readyPod(ctx, t, c.pod)
				fe := nodeFlannel(ctx, t, workers[i])
				got := checkAttachments(ctx, t, p, []e2eutil.Want{
					clusterWant(fe),
					{Interface: "net1", Network: ns + "/" + c.nad, InPrefix: []netip.Prefix{macvlanNet}},
				})
				net1, ok := e2eutil.Entry(got.Status, "net1")
				if !ok || len(net1.IPs) != 1 {
					t.Fatalf("pod %s: no single net1 address in %v", p.Name, got.Status)
				}
				ip := netip.MustParseAddr(net1.IPs[0])
				if ip.Less(netip.MustParseAddr(c.lo)) || netip.MustParseAddr(c.hi).Less(ip) {
					t.Errorf("pod %s: net1 %s outside host-local range %s-%s", p.Name, ip, c.lo, c.hi)
				}
				if l, ok := got.Netns.Links["net1"]; !ok || len(l.Addrs) != 1 || l.Addrs[0].Bits() != 24 {
					t.Errorf("pod %s: net1 in the netns is %+v, want one /24 address", p.Name, l)
				}
				// The lease on the node is the third witness: host-local
				// reserved exactly this address for this pod.
				leaseOwner(ctx, t, workers[i], c.net, ip.String())
				*c.ipOut = ip.String()
			}
			return ctx
		}).
		Assess("the two pods reach each other over net1", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			pingUntil(ctx, t, a, ipB, "net1")
			pingUntil(ctx, t, b, ipA, "net1")
			return ctx
		}).
		Feature()
	testenv.Test(t, f)
}
