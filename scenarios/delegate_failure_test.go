//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/multus-thick/multus-thick/scenarios/internal/e2eutil"
)

// The second attachment's delegate fails ADD with CNI code 142 (cni-fault,
// after a real macvlan in the same conflist has made its link and taken an
// address). The pod must not start; the Warning event names the network
// and the delegate's message; the rollback leaves nothing on the node (no
// lease in any of the three networks, no cache file, no extra veth); and
// once the NAD is fixed the same pod starts with all three interfaces.
// Upstream Multus thick does all that (its rollback DELs every delegate
// added so far, the failed one included); what it does not do is keep the
// delegate's CNI code, which upstream's shim turns into 999: that check is
// a feature of its own in the extended profile, run first, on its own pod,
// before the other feature fixes the NAD.
func TestDelegateFailure(t *testing.T) {
	var pod, coded *corev1.Pod
	code := features.New("delegate-failure-code").
		WithLabel("area", "fault").
		WithLabel("profile", "extended").
		WithLabel("kind", "negative").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ensureNAD(ctx, t, "nad/macvlan-hostlocal-low.yaml")
			ensureNAD(ctx, t, "nad/cni-fault-add-error.yaml")
			coded = createPod(ctx, t, "fails-with-code", workers[0], "macvlan-low,fault-add")
			return ctx
		}).
		Assess("the Warning carries the delegate's CNI code 142", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ev, err := lab.WaitEvent(ctx, coded, eventTimeout, e2eutil.IsWarningWith(namespace(ctx)+"/fault-add", "142"))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("event %s: %s", ev.Reason, ev.Message)
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			// Gone before the next feature counts veths and leases.
			deletePod(ctx, t, coded)
			return ctx
		}).
		Feature()
	f := features.New("delegate-failure").
		WithLabel("area", "fault").
		WithLabel("profile", "upstream").
		WithLabel("kind", "negative").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ensureNAD(ctx, t, "nad/macvlan-hostlocal-low.yaml")
			ensureNAD(ctx, t, "nad/cni-fault-add-error.yaml")
			pod = createPod(ctx, t, "fails", workers[0], "macvlan-low,fault-add")
			return ctx
		}).
		Assess("the pod does not start and a Warning names the network and the delegate's message", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			network := namespace(ctx) + "/fault-add"
			ev, err := lab.WaitEvent(ctx, pod, eventTimeout, e2eutil.IsWarningWith(network))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("event %s: %s", ev.Reason, ev.Message)
			if _, err := lab.WaitEvent(ctx, pod, eventTimeout, e2eutil.IsWarningWith("injected ADD failure")); err != nil {
				t.Errorf("the delegate's own message never reached an event: %v", err)
			}
			p := getPod(ctx, t, pod)
			if p.Status.Phase != corev1.PodPending || p.Status.PodIP != "" {
				t.Errorf("pod phase %s ip %q, want Pending without an IP", p.Status.Phase, p.Status.PodIP)
			}
			return ctx
		}).
		Assess("every failed attempt was rolled back: no lease, cache file or veth left", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			err := e2eutil.Until(ctx, nodeStateWait, func(ctx context.Context) (string, error) {
				recs, err := faultRecords(ctx, workers[0], pod)
				if err != nil {
					return "", err
				}
				adds, dels := sandboxesOf(recs, "ADD"), sandboxesOf(recs, "DEL")
				if len(adds) == 0 {
					return "cni-fault recorded no ADD for the pod", nil
				}
				// Rollback runs DEL on the failed delegate too, so its
				// partial work (macvlan's link and lease) is released.
				if missing := minus(adds, dels); len(missing) > 0 {
					return fmt.Sprintf("sandboxes %v got ADD but no DEL", missing), nil
				}
				if msg, err := nodeLeftovers(ctx, workers[0], adds, "mt-macvlan-low", "mt-fault-add", clusterNetwork); msg != "" || err != nil {
					return msg, err
				}
				return vethBalance(ctx, workers[0])
			})
			if err != nil {
				t.Fatal(err)
			}
			return ctx
		}).
		Assess("fixing the NAD lets the same pod start with all its interfaces", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			nad, err := e2eutil.LoadNAD("nad/cni-fault-add-error.yaml", namespace(ctx))
			if err != nil {
				t.Fatal(err)
			}
			if err := lab.Res.Get(ctx, nad.Name, nad.Namespace, nad); err != nil {
				t.Fatal(err)
			}
			err = e2eutil.EditNADConfig(nad, func(conf map[string]any) {
				for _, p := range conf["plugins"].([]any) {
					delete(p.(map[string]any), "fault")
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := lab.Res.Update(ctx, nad); err != nil {
				t.Fatal(err)
			}
			pod = readyPod(ctx, t, pod)
			checkAttachments(ctx, t, pod, []e2eutil.Want{
				clusterWant(nodeFlannel(ctx, t, workers[0])),
				{Interface: "net1", Network: namespace(ctx) + "/macvlan-low", InPrefix: []netip.Prefix{macvlanNet}},
				// fault-add's macvlan range is 10.77.0.200-249, inside .192/26.
				{Interface: "net2", Network: namespace(ctx) + "/fault-add", InPrefix: []netip.Prefix{netip.MustParsePrefix("10.77.0.192/26")}},
			})
			return ctx
		}).
		Feature()
	testenv.Test(t, code, f)
}

// minus returns the elements of a not in b.
func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}
