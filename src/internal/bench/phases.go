package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// callTimeout bounds one CNI invocation; a hung plugin fails the call instead
// of the run.
const callTimeout = 60 * time.Second

// recordErr counts a failure on a side and keeps the first few messages.
func recordErr(s *Side, what string, err error) {
	s.Failed++
	if len(s.FirstErrors) < 5 {
		s.FirstErrors = append(s.FirstErrors, what+": "+err.Error())
	}
}

// newCalls assigns fresh sandboxes (container ID + netns name) to pods.
func (h *harness) newCalls(pods []benchPodRef) []podCall {
	calls := make([]podCall, len(pods))
	for i, p := range pods {
		h.netnsSeq++
		calls[i] = podCall{
			namespace:   p.namespace,
			name:        p.name,
			uid:         p.uid,
			containerID: randomID(32),
			netnsName:   fmt.Sprintf("%s-%d", h.prefix, h.netnsSeq),
		}
	}
	return calls
}

func netnsNames(calls []podCall) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.netnsName
	}
	return out
}

// withNetns creates the calls' namespaces, runs fn, and always deletes them.
func (h *harness) withNetns(ctx context.Context, calls []podCall, fn func() error) error {
	names := netnsNames(calls)
	if err := h.host.addNetns(ctx, names); err != nil {
		_ = h.host.delNetns(context.WithoutCancel(ctx), names)
		return err
	}
	defer func() { _ = h.host.delNetns(context.WithoutCancel(ctx), names) }()
	return fn()
}

func timed(ctx context.Context, fn func(context.Context) error) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	start := time.Now()
	err := fn(ctx)
	return time.Since(start), err
}

// warmup runs ADD+DEL for a few pods untimed (page cache, the bridge, the
// daemon's first connections) and checks that both interfaces really appear
// in the pod's namespace: a side that skipped the secondary network would
// otherwise look fast.
func (h *harness) warmup(ctx context.Context, name string, sd side, res *Side, pods []benchPodRef) error {
	calls := h.newCalls(pods)
	return h.withNetns(ctx, calls, func() error {
		for i, c := range calls {
			if _, err := timed(ctx, func(ctx context.Context) error { return sd.add(ctx, c) }); err != nil {
				recordErr(res, "warm-up ADD", err)
				if i == 0 {
					return fmt.Errorf("%s: first ADD failed: %w", name, err)
				}
				continue
			}
			if i == 0 {
				links, err := h.host.run(ctx, "", "-n", c.netnsName, "-o", "link", "show")
				if err != nil {
					return err
				}
				got := parseLinkNames(links)
				for _, want := range []string{"eth0", "net1"} {
					if !containsStr(got, want) {
						return fmt.Errorf("%s: after ADD the pod namespace has links %v, want eth0 and net1", name, got)
					}
				}
			}
			if _, err := timed(ctx, func(ctx context.Context) error { return sd.del(ctx, c) }); err != nil {
				recordErr(res, "warm-up DEL", err)
			}
		}
		return nil
	})
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// sequential ADDs every pod one after the other, then DELs them in the same
// order; each pod has its own fresh namespace.
func (h *harness) sequential(ctx context.Context, sd side, res *Side, pods []benchPodRef, daemonPID int) error {
	calls := h.newCalls(pods)
	return h.withNetns(ctx, calls, func() error {
		added := make([]bool, len(calls))
		var adds, dels []time.Duration
		cpu0 := h.cpuSnap(daemonPID)
		for i, c := range calls {
			d, err := timed(ctx, func(ctx context.Context) error { return sd.add(ctx, c) })
			if err != nil {
				recordErr(res, "sequential ADD", err)
			} else {
				added[i] = true
				adds = append(adds, d)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		res.SeqAddCPU = h.cpuSnap(daemonPID).since(cpu0, len(adds), daemonPID > 0)
		for i, c := range calls {
			d, err := timed(ctx, func(ctx context.Context) error { return sd.del(ctx, c) })
			switch {
			case err != nil:
				recordErr(res, "sequential DEL", err)
			case added[i]:
				dels = append(dels, d)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		res.SeqAdd, res.SeqDel = Summarize(adds), Summarize(dels)
		return nil
	})
}

// cpuSnap is a reading of the CPU counters that matter (clock ticks).
type cpuSnap struct {
	daemon, daemonChildren, harnessChildren, controlPlane int64
}

func (h *harness) cpuSnap(daemonPID int) cpuSnap {
	var c cpuSnap
	if daemonPID > 0 {
		if st, err := h.proc.Stat(daemonPID); err == nil {
			c.daemon, c.daemonChildren = st.CPUTicks, st.ChildCPUTicks
		}
	}
	if st, err := h.proc.Stat(os.Getpid()); err == nil {
		c.harnessChildren = st.ChildCPUTicks
	}
	for _, pid := range h.controlPlane {
		if st, err := h.proc.Stat(pid); err == nil {
			c.controlPlane += st.CPUTicks
		}
	}
	return c
}

// clockTick is USER_HZ, 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// since turns two readings into CPU per operation. In a subject's phase the
// harness's reaped children are the shims; in the floor's they are the plugins.
func (c cpuSnap) since(before cpuSnap, ops int, subject bool) CPUCost {
	if ops == 0 {
		return CPUCost{}
	}
	per := func(ticks int64) float64 {
		return float64(time.Duration(ticks)*clockTick) / float64(time.Millisecond) / float64(ops)
	}
	out := CPUCost{Ops: ops, ControlPlane: per(c.controlPlane - before.controlPlane)}
	if subject {
		out.Daemon = per(c.daemon - before.daemon)
		out.Delegates = per(c.daemonChildren - before.daemonChildren)
		out.Shim = per(c.harnessChildren - before.harnessChildren)
	} else {
		out.Delegates = per(c.harnessChildren - before.harnessChildren)
	}
	return out
}

// burst starts len(pods) ADDs at once and measures the wall time until the
// last one returns, each request's latency, and memory (see sampler).
// daemonPID is 0 for the floor.
func (h *harness) burst(ctx context.Context, sd side, res *Side, pods []benchPodRef, daemonPID int) error {
	calls := h.newCalls(pods)
	return h.withNetns(ctx, calls, func() error {
		b := Burst{Size: len(calls)}
		lat := make([]time.Duration, len(calls))
		errs := make([]error, len(calls))
		gate := make(chan struct{})
		var ready, done sync.WaitGroup
		for i, c := range calls {
			ready.Add(1)
			done.Go(func() {
				ready.Done()
				<-gate
				lat[i], errs[i] = timed(ctx, func(ctx context.Context) error { return sd.add(ctx, c) })
			})
		}
		ready.Wait()
		smp := startSampler(h.proc, daemonPID, h.params.sampleEvery())
		start := time.Now()
		close(gate)
		done.Wait()
		b.WallMS = float64(time.Since(start)) / float64(time.Millisecond)
		win := smp.stop()
		b.DaemonPeakRSSKiB, b.DaemonPeakAnonKiB = win.DaemonPeakKiB, win.DaemonAnonPeak
		b.DelegatesPeakRSSKiB, b.CallersPeakRSSKiB = win.DelegatesPeakKiB, win.CallersPeakKiB

		var ok []time.Duration
		for i, err := range errs {
			if err != nil {
				b.Failed++
				recordErr(res, fmt.Sprintf("burst %d ADD", len(calls)), err)
				continue
			}
			ok = append(ok, lat[i])
		}
		b.PerRequest = Summarize(ok)

		if daemonPID > 0 {
			if err := sleepCtx(ctx, h.params.settle()); err != nil {
				return err
			}
			if st, err := h.proc.Status(daemonPID); err == nil {
				b.DaemonSettledRSSKiB = st.RSSKiB
			}
		}
		res.Bursts = append(res.Bursts, b)

		// Clean up with bounded concurrency; DEL latency here is not reported.
		return forEachBounded(ctx, len(calls), 10, func(ctx context.Context, i int) error {
			if _, err := timed(ctx, func(ctx context.Context) error { return sd.del(ctx, calls[i]) }); err != nil {
				recordErr(res, fmt.Sprintf("burst %d DEL", len(calls)), err)
			}
			return nil
		})
	})
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// procCost runs fn runs times for wall time (timeBin "") and runs times for
// peak RSS (through timeBin, when there is one; see RunProcess).
func procCost(ctx context.Context, runs int, timeBin, what string, fn func(ctx context.Context, timeBin string) (ProcRun, error), res *Side) (ProcCost, error) {
	var walls []time.Duration
	var rss []int64
	for range runs {
		run, err := fn(ctx, "")
		if ctx.Err() != nil {
			return ProcCost{}, ctx.Err()
		}
		if err != nil {
			recordErr(res, what, err)
			continue
		}
		walls = append(walls, run.Wall)
	}
	if timeBin != "" {
		for range runs {
			run, err := fn(ctx, timeBin)
			if ctx.Err() != nil {
				return ProcCost{}, ctx.Err()
			}
			if err != nil {
				recordErr(res, what+" (RSS pass)", err)
				continue
			}
			rss = append(rss, run.MaxRSSKiB)
		}
	}
	return ProcCost{Runs: len(walls), Wall: Summarize(walls), MaxRSSKiB: MedianInt64(rss), What: what}, nil
}

// envList renders CNI variables for RunProcess, keeping PATH.
func envList(vars map[string]string, path string) []string {
	out := []string{"PATH=" + path}
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

func cniArgs(p podCall) string {
	parts := []string{"IgnoreUnknown=1", "K8S_POD_NAMESPACE=" + p.namespace, "K8S_POD_NAME=" + p.name, "K8S_POD_INFRA_CONTAINER_ID=" + p.containerID}
	return strings.Join(parts, ";")
}
