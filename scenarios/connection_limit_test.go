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
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	"sigs.k8s.io/e2e-framework/pkg/types"

	"github.com/multus-thick/multus-thick/scenarios/internal/e2eutil"
)

// TestConnectionLimit is upstream's connection-limit e2e: with
// connectionLimit 1 in daemon-config.json, six pods created at once on one
// worker all start (requests queue, none is dropped), and the daemon's
// probes stay green throughout (no restart, no Unhealthy event). The
// config is restored afterwards, which rolls the daemon once more.
func TestConnectionLimit(t *testing.T) {
	f := connectionLimit()
	if lab == nil || !selected(testenv.EnvConf(), f) {
		testenv.Test(t, f) // reports the skip
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*rolloutTimeout)
	defer cancel()
	restore, err := lab.PatchDaemonConfig(ctx, map[string]any{"connectionLimit": 1}, rolloutTimeout)
	if err != nil {
		t.Fatalf("patch daemon config: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*rolloutTimeout)
		defer cancel()
		if err := restore(ctx); err != nil {
			t.Errorf("restore daemon config: %v", err)
		}
	})
	testenv.Test(t, f)
}

func connectionLimit() types.Feature {
	const n = 6
	var (
		node     string
		pods     []*corev1.Pod
		start    time.Time
		restarts map[string]int32 // daemon pod name -> restarts before
	)
	return features.New("connection-limit").
		WithLabel("area", "config").
		WithLabel("profile", "upstream").
		WithLabel("disruptive", "true").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			node = workers[0]
			var err error
			if restarts, err = daemonRestarts(ctx); err != nil {
				t.Fatal(err)
			}
			start = time.Now()
			lines, err := lab.DaemonLogLines(ctx, node, start.Add(-rolloutTimeout), "connectionLimit")
			if err != nil {
				t.Fatal(err)
			}
			if len(lines) == 0 || !limitIsOne(lines[len(lines)-1]) {
				t.Fatalf("the daemon on %s did not start with connectionLimit 1: %q", node, lines)
			}
			createNAD(ctx, t, "nad/macvlan-hostlocal-low.yaml")
			pods = make([]*corev1.Pod, n)
			for i := range pods {
				p, err := newPod(ctx, fmt.Sprintf("limited-%d", i), node, "macvlan-low")
				if err != nil {
					t.Fatal(err)
				}
				pods[i] = p
			}
			// All six at once: the runtime's six ADDs reach the daemon
			// together and must queue behind the one slot.
			errs := make(chan error, n)
			forEachPod(pods, func(p *corev1.Pod) { errs <- lab.Res.Create(ctx, p) })
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("create pod: %v", err)
				}
			}
			return ctx
		}).
		Assess("all six pods become Ready with net1", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			pods = allReady(ctx, t, pods, 3*time.Minute)
			t.Logf("%d pods Ready on %s in %s with connectionLimit 1", n, node, time.Since(start).Round(100*time.Millisecond))
			fe := nodeFlannel(ctx, t, node)
			checkPods(ctx, t, pods, func(*corev1.Pod) []e2eutil.Want {
				return []e2eutil.Want{
					clusterWant(fe),
					{Interface: "net1", Network: namespace(ctx) + "/macvlan-low", InPrefix: []netip.Prefix{macvlanNet}},
				}
			})
			return ctx
		}).
		Assess("the daemon's probes stayed green: no restart, no Unhealthy event", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			after, err := daemonRestarts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for name, before := range restarts {
				if got, ok := after[name]; !ok || got != before {
					t.Errorf("daemon pod %s: restarts %d -> %d (present %v)", name, before, got, ok)
				}
			}
			for name := range after {
				evs, err := lab.PodEvents(ctx, lab.S.DaemonNamespace, name)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range evs {
					if e.Type == corev1.EventTypeWarning && !eventTimeOf(e).Before(start) {
						t.Errorf("daemon pod %s: %s event at %s: %s", name, e.Reason, eventTimeOf(e).Format(time.RFC3339), e.Message)
					}
				}
			}
			return ctx
		}).
		Feature()
}

// daemonRestarts is every daemon pod's container restart count.
func daemonRestarts(ctx context.Context) (map[string]int32, error) {
	pods, err := lab.DaemonPods(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int32{}
	for _, p := range pods {
		var n int32
		for _, cs := range p.Status.ContainerStatuses {
			n += cs.RestartCount
		}
		out[p.Name] = n
	}
	return out, nil
}

// limitIsOne reads the daemon's startup line, text or JSON.
func limitIsOne(line string) bool {
	return strings.Contains(line, "connectionLimit=1 ") || strings.HasSuffix(line, "connectionLimit=1") ||
		strings.Contains(line, `"connectionLimit":1,`) || strings.Contains(line, `"connectionLimit":1}`)
}

func eventTimeOf(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}
