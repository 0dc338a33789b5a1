//go:build e2e

package scenarios

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/multus-thick/multus-thick/scenarios/internal/e2eutil"
)

// 50 pods with a macvlan attachment on one worker, created back to back,
// all become Ready with unique addresses and agreeing oracles. The time to
// all-Ready and the daemon's peak memory on that node are reported (in the
// test log and, with MT_E2E_ARTIFACTS, in burst.json); they are
// measurements, not assertions.
func TestBurst50(t *testing.T) {
	const n = 50
	var pods []*corev1.Pod
	var start time.Time
	node := ""
	f := features.New("burst-50").
		WithLabel("area", "scale").
		WithLabel("profile", "upstream").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			node = workers[1]
			createNAD(ctx, t, "nad/macvlan-hostlocal-high.yaml")
			if err := lab.ResetDaemonPeakMemory(ctx, node); err != nil {
				t.Logf("peak memory will include the time before the burst: %v", err)
			}
			start = time.Now()
			pods = podSet(ctx, t, "burst", node, "macvlan-high", n, 0, nil)
			return ctx
		}).
		Assess("all 50 pods become Ready", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			pods = allReady(ctx, t, pods, 5*time.Minute)
			elapsed := time.Since(start)
			// A measurement, not an assertion: another build's daemon may
			// run in a cgroup layout this lookup does not know.
			peak, err := lab.DaemonPeakMemory(ctx, node)
			if err != nil {
				t.Logf("daemon peak memory not measured: %v", err)
			}
			t.Logf("burst: %d pods Ready on %s in %s; daemon peak memory %.1f MiB", n, node, elapsed.Round(100*time.Millisecond), float64(peak)/(1<<20))
			if dir := lab.S.Artifacts; dir != "" {
				b, _ := json.MarshalIndent(map[string]any{"pods": n, "node": node, "seconds": elapsed.Seconds(), "daemonPeakBytes": peak}, "", "  ")
				if err := os.MkdirAll(dir, 0o755); err == nil {
					_ = os.WriteFile(filepath.Join(dir, "burst.json"), b, 0o644)
				}
			}
			return ctx
		}).
		Assess("every pod has net1 with its own address and the oracles agree", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			fe := nodeFlannel(ctx, t, node)
			seen := map[string]string{}
			for _, p := range pods {
				st, err := e2eutil.NetworkStatus(p)
				if err != nil {
					t.Error(err)
					continue
				}
				if e, ok := e2eutil.Entry(st, "net1"); ok && len(e.IPs) == 1 {
					if other, dup := seen[e.IPs[0]]; dup {
						t.Errorf("pods %s and %s share net1 address %s", other, p.Name, e.IPs[0])
					}
					seen[e.IPs[0]] = p.Name
				}
			}
			want := []e2eutil.Want{
				clusterWant(fe),
				{Interface: "net1", Network: namespace(ctx) + "/macvlan-high", InPrefix: []netip.Prefix{macvlanNet}},
			}
			checkPods(ctx, t, pods, func(*corev1.Pod) []e2eutil.Want { return want })
			return ctx
		}).
		Feature()
	testenv.Test(t, f)
}
