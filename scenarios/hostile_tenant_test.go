//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/e2e-framework/klient/decoder"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	"sigs.k8s.io/e2e-framework/pkg/types"

	"github.com/multus-thick/multus-thick/scenarios/internal/e2eutil"
)

// hostileTenant: in one tenant namespace, with namespaceIsolation on
// (TestDaemonConfigured), pods name an oversized NAD, hundreds of
// networks, a NAD whose plugin is Multus itself, and another namespace's
// NAD through the default-network annotation and the JSON namespace field.
// Each is refused with a Warning naming the culprit; meanwhile a
// well-behaved pod on the same node gets its networks in about the time
// it took before, and the node's daemon never restarts.
func hostileTenant(otherNS string) types.Feature {
	type hostile struct {
		name  string
		pod   *corev1.Pod
		event []string // parts of the Warning the pod must get
	}
	var (
		hostiles []*hostile
		daemon   corev1.Pod
		baseline time.Duration
	)
	return features.New("hostile-tenant").
		WithLabel("area", "config").
		WithLabel("profile", "extended").
		WithLabel("disruptive", "true").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ns := namespace(ctx)
			ds, err := lab.DaemonPods(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var ok bool
			if daemon, ok = ds[workers[0]]; !ok {
				t.Fatalf("no daemon pod on %s", workers[0])
			}
			ensureNAD(ctx, t, "nad/macvlan-hostlocal-low.yaml")
			// The usual time of a well-behaved pod on this node, now.
			start := time.Now()
			readyPod(ctx, t, createPod(ctx, t, "baseline", workers[0], "macvlan-low"))
			baseline = time.Since(start)

			createNAD(ctx, t, "nad/macvlan-hostlocal-low.yaml", e2eutil.Named("oversized"),
				e2eutil.NADConfig(func(c map[string]any) { c["pad"] = strings.Repeat("x", 100<<10) }))
			createNAD(ctx, t, "nad/macvlan-hostlocal-low.yaml", e2eutil.Named("loop"),
				e2eutil.NADConfig(func(c map[string]any) { c["type"] = "multus-shim" }))
			var many []string
			for i := range 300 {
				many = append(many, fmt.Sprintf("macvlan-low@m%d", i))
			}
			hostiles = []*hostile{
				{name: "oversized-nad", event: []string{ns + "/oversized", "maxNADConfigBytes"}},
				{name: "many-networks", event: []string{"300 entries", "maxNetworksPerPod"}},
				{name: "self-call", event: []string{ns + "/loop", "Multus meta-plugin"}},
				{name: "foreign-default", event: []string{"namespace isolation", otherNS + "/macvlan-low"}},
				{name: "foreign-json", event: []string{"namespace isolation", otherNS + "/macvlan-low"}},
			}
			networks := map[string]string{
				"oversized-nad": "oversized", "many-networks": strings.Join(many, ","), "self-call": "loop",
				"foreign-json": fmt.Sprintf(`[{"name":"macvlan-low","namespace":%q}]`, otherNS),
			}
			for _, h := range hostiles {
				var opts []decoder.DecodeOption
				if h.name == "foreign-default" {
					opts = append(opts, decoder.MutateAnnotations(map[string]string{"v1.multus-cni.io/default-network": otherNS + "/macvlan-low"}))
				}
				h.pod = createPod(ctx, t, h.name, workers[0], networks[h.name], opts...)
			}
			return ctx
		}).
		Assess("each hostile pod is refused with a Warning naming the culprit", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			for _, h := range hostiles {
				ev, err := lab.WaitEvent(ctx, h.pod, eventTimeout, e2eutil.IsWarningWith(h.event...))
				if err != nil {
					t.Errorf("%s: %v", h.name, err)
					continue
				}
				t.Logf("%s: %s: %s", h.name, ev.Reason, ev.Message)
			}
			return ctx
		}).
		Assess("a well-behaved pod on the same node still gets its networks in its usual time", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			start := time.Now()
			p := readyPod(ctx, t, createPod(ctx, t, "well-behaved", workers[0], "macvlan-low"))
			took := time.Since(start)
			t.Logf("well-behaved pod ready after %s (before the hostile pods: %s)", took.Round(time.Millisecond), baseline.Round(time.Millisecond))
			// Generous: the hostile pods' sandboxes keep being retried by
			// the kubelet on the same two cores. A self-call holding a
			// delegate slot or the daemon crash-looping costs minutes.
			if limit := 3*baseline + 30*time.Second; took > limit {
				t.Errorf("well-behaved pod took %s, over %s (3x the baseline %s + 30s)", took, limit, baseline)
			}
			checkAttachments(ctx, t, p, []e2eutil.Want{
				clusterWant(nodeFlannel(ctx, t, workers[0])),
				{Interface: "net1", Network: namespace(ctx) + "/macvlan-low", InPrefix: []netip.Prefix{macvlanNet}},
			})
			return ctx
		}).
		Assess("the daemon did not restart and the hostile pods stay pending", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ds, err := lab.DaemonPods(ctx)
			if err != nil {
				t.Fatal(err)
			}
			now, ok := ds[workers[0]]
			if !ok || now.UID != daemon.UID {
				t.Fatalf("daemon pod on %s replaced: %s -> %s", workers[0], daemon.UID, now.UID)
			}
			if got, was := restarts(now), restarts(daemon); got != was {
				t.Errorf("daemon containers restarted: %d -> %d restarts", was, got)
			}
			for _, h := range hostiles {
				if p := getPod(ctx, t, h.pod); p.Status.Phase != corev1.PodPending {
					t.Errorf("%s: phase %s, want Pending", h.name, p.Status.Phase)
				}
			}
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			// The kubelet keeps retrying the refused sandboxes; stop that
			// load before the next feature (the namespace goes at the end).
			if lab.S.Keep {
				return ctx
			}
			for _, h := range hostiles {
				if err := lab.Res.Delete(ctx, h.pod); err != nil {
					t.Errorf("delete pod %s: %v", h.name, err)
				}
			}
			return ctx
		}).
		Feature()
}

func restarts(p corev1.Pod) int32 {
	var n int32
	for _, c := range p.Status.ContainerStatuses {
		n += c.RestartCount
	}
	return n
}
