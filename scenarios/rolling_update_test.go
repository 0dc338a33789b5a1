//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/multus-thick/multus-thick/scenarios/internal/e2eutil"
)

// churnResult is what one create/delete cycle left to check.
type churnResult struct {
	sandbox  string   // the pod's sandbox, from its net1 lease
	problems []string // missing interfaces, disagreeing oracles, errors
}

// churnOnce creates a pod with a macvlan attachment on node, checks both
// oracles once it is Ready, records its sandbox and deletes it. It never
// calls t: it runs beside the rollout.
func churnOnce(ctx context.Context, name, node string, fe flannelEnv) churnResult {
	var r churnResult
	pod, err := newPod(ctx, name, node, "macvlan-low")
	if err == nil {
		err = lab.Res.Create(ctx, pod)
	}
	if err != nil {
		r.problems = append(r.problems, fmt.Sprintf("create %s: %v", name, err))
		return r
	}
	fresh, err := lab.WaitPodReady(ctx, pod, podReadyTimeout)
	if err == nil {
		var got attachments
		got, r.problems, err = inspectPod(ctx, fresh, []e2eutil.Want{
			clusterWant(fe),
			{Interface: "net1", Network: pod.Namespace + "/macvlan-low", InPrefix: []netip.Prefix{macvlanNet}},
		})
		if n1, ok := e2eutil.Entry(got.Status, "net1"); err == nil && ok && len(n1.IPs) == 1 {
			leases, lerr := lab.Nodes.HostLocalLeases(ctx, node, lab.S.HostLocalDir, "mt-macvlan-low")
			r.sandbox, err = leases[n1.IPs[0]], lerr
		}
	}
	if err != nil {
		r.problems = append(r.problems, fmt.Sprintf("pod %s: %v", name, err))
	}
	if err := lab.Res.Delete(ctx, pod); err != nil {
		r.problems = append(r.problems, fmt.Sprintf("delete %s: %v", name, err))
	} else if err := lab.WaitPodGone(ctx, pod, podGoneTimeout); err != nil {
		r.problems = append(r.problems, err.Error())
	}
	return r
}

// The daemon is rolled while pods are created and deleted continuously on
// one worker (two at a time, for the whole rollout): DELs meet the old
// daemon, a draining one and the next one; ADDs wait for a ready one. At
// the end every created pod had all its interfaces, and the node holds no
// lease, cache file or veth of any deleted pod.
func TestRollingUpdateWithChurn(t *testing.T) {
	testenv.Test(t, rollingUpdateFeature("rolling-update-with-churn", false))
}

// The same with upstream's DEL behaviour on the worker (mt-oldshim: one
// /healthz probe, then the DEL is dropped) until the rollout's installer
// replaces it: no DEL may find no daemon.
func TestRollingUpdateWithOldShim(t *testing.T) {
	testenv.Test(t, rollingUpdateFeature("rolling-update-with-old-shim", true))
}

func rollingUpdateFeature(name string, oldShim bool) features.Feature {
	const churners, maxCycles = 2, 12
	var (
		mu      sync.Mutex
		results []churnResult
		cycles  int
		restore func(context.Context) error
	)
	return features.New(name).
		WithLabel("area", "availability").
		WithLabel("profile", "extended").
		WithLabel("disruptive", "true").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			createNAD(ctx, t, "nad/macvlan-hostlocal-low.yaml")
			if oldShim {
				var err error
				if restore, err = installOldShim(ctx, workers[0]); err != nil {
					t.Fatal(err)
				}
			}
			return ctx
		}).
		Assess("pods churn on a worker for the whole rollout", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			node := workers[0]
			fe := nodeFlannel(ctx, t, node)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for c := 0; c < churners; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < maxCycles; i++ {
						select {
						case <-stop:
							return
						default:
						}
						r := churnOnce(ctx, fmt.Sprintf("churn-%d-%d", c, i), node, fe)
						mu.Lock()
						results = append(results, r)
						cycles++
						mu.Unlock()
					}
				}()
			}
			if oldShim {
				// The rollout's installer puts our shim back on the
				// worker; put the old one back each time, so that it
				// serves the DELs of the whole rollout, handover included.
				wg.Add(1)
				go func() {
					defer wg.Done()
					keepOldShim(ctx, node, stop)
				}()
			}
			start := time.Now()
			if err := lab.RestartDaemon(ctx); err != nil {
				close(stop)
				wg.Wait()
				t.Fatal(err)
			}
			err := lab.WaitDaemonRolledOut(ctx, rolloutTimeout)
			rolled := time.Since(start).Round(time.Second)
			close(stop)
			wg.Wait()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("rollout took %s; %d create/delete cycles on %s", rolled, cycles, node)
			if cycles < churners {
				t.Fatalf("only %d cycles: the churn did not span the rollout", cycles)
			}
			return ctx
		}).
		Assess("every created pod had all its interfaces", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			for _, r := range results {
				for _, p := range r.problems {
					t.Error(p)
				}
			}
			return ctx
		}).
		Assess("the node holds nothing of the deleted pods", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			var sandboxes []string
			for _, r := range results {
				if r.sandbox != "" {
					sandboxes = append(sandboxes, r.sandbox)
				}
			}
			if len(sandboxes) == 0 {
				t.Fatal("no sandbox recorded")
			}
			err := e2eutil.Until(ctx, nodeStateWait, func(ctx context.Context) (string, error) {
				if left, err := nodeLeftovers(ctx, workers[0], sandboxes, "mt-macvlan-low", clusterNetwork); left != "" || err != nil {
					return left, err
				}
				return vethBalance(ctx, workers[0])
			})
			if err != nil {
				t.Fatal(err)
			}
			return ctx
		}).
		Assess("the old shim dropped no DEL", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			if !oldShim {
				return ctx
			}
			out, err := lab.Nodes.Sh(ctx, workers[0], "cat "+oldShimLog+" 2>/dev/null || true")
			if err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if f := strings.Fields(line); len(f) >= 3 {
					counts[f[2]]++
					if f[2] != "sent" {
						t.Errorf("mt-oldshim: %s", line)
					}
				}
			}
			t.Logf("DELs through mt-oldshim on %s: %v", workers[0], counts)
			if counts["sent"] == 0 {
				t.Error("no DEL went through mt-oldshim: the run proves nothing about it")
			}
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			if restore != nil {
				if err := restore(ctx); err != nil {
					t.Errorf("restore the shim on %s: %v", workers[0], err)
				}
			}
			return ctx
		}).
		Feature()
}

// oldShimLog is where mt-oldshim writes each DEL's outcome on the node.
const oldShimLog = "/var/log/mt-oldshim.log"

// installOldShim puts bin/mt-oldshim (make build) in place of the node's
// multus-shim, atomically; restore puts the original back.
func installOldShim(ctx context.Context, node string) (restore func(context.Context) error, err error) {
	src, err := filepath.Abs(filepath.Join("..", "bin", "mt-oldshim"))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(src); err != nil {
		return nil, fmt.Errorf("mt-oldshim not built (run make build): %w", err)
	}
	const dir = "/opt/cni/bin"
	if err := dockerOnHost(ctx, "cp", src, node+":"+dir+"/multus-shim.mt-old"); err != nil {
		return nil, err
	}
	script := fmt.Sprintf("set -e; cd %s; cp -a multus-shim multus-shim.mt-orig; rm -f %s; "+
		"cp -a multus-shim.mt-old multus-shim.mt-tmp; mv -f multus-shim.mt-tmp multus-shim", dir, oldShimLog)
	if _, err := lab.Nodes.Sh(ctx, node, script); err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		_, err := lab.Nodes.Sh(ctx, node, fmt.Sprintf("set -e; cd %s; rm -f multus-shim.mt-old multus-shim.mt-tmp; "+
			"if [ -f multus-shim.mt-orig ]; then mv -f multus-shim.mt-orig multus-shim; fi", dir))
		return err
	}, nil
}

// keepOldShim re-installs mt-oldshim (kept by installOldShim as
// multus-shim.mt-old) whenever something replaced it, until stop; at most
// every 300 ms, and never past ctx.
func keepOldShim(ctx context.Context, node string, stop <-chan struct{}) {
	script := "cd /opt/cni/bin; cmp -s multus-shim multus-shim.mt-old || " +
		"{ cp -a multus-shim.mt-old multus-shim.mt-tmp && mv -f multus-shim.mt-tmp multus-shim; }"
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
			_, _ = lab.Nodes.Sh(ctx, node, script) // a failed round is retried on the next tick
		}
	}
}
