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
func (h *harness) warmup(ctx context.Context, p *participant) error {
	name, sd, res := p.name, p.sd, p.res
	calls := h.newCalls(p.warm)
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

// participant is one side of the comparison with its pods.
type participant struct {
	name      string
	sd        side
	res       *Side
	daemonPID int // 0 for the floor
	// metricsPort is the daemon's loopback metrics listener; 0 for the
	// floor, or once scraping it failed.
	metricsPort int
	warm, seq   []benchPodRef
	bursts      [][]benchPodRef
}

// seqBlock is how many sequential ADDs (or DELs) one side runs before the
// next side takes its turn: interleaving in blocks cancels the drift of a
// shared machine's load between sides, and keeping a block to one side lets
// the CPU counters be attributed to it.
const seqBlock = 10

// sequential ADDs every side's pods one after the other (sides alternating
// in blocks), then DELs them the same way; each pod has its own fresh
// namespace.
func (h *harness) sequential(ctx context.Context, parts []*participant) error {
	calls := make([][]podCall, len(parts))
	var all []podCall
	for i, p := range parts {
		calls[i] = h.newCalls(p.seq)
		all = append(all, calls[i]...)
	}
	return h.withNetns(ctx, all, func() error {
		added := make([][]bool, len(parts))
		adds := make([][]time.Duration, len(parts))
		dels := make([][]time.Duration, len(parts))
		cpu := make([]cpuSnap, len(parts))
		apiAdd, apiDel := make([]apiCounts, len(parts)), make([]apiCounts, len(parts))
		apiFound := make([]bool, len(parts))
		for i := range parts {
			added[i] = make([]bool, len(calls[i]))
			apiAdd[i], apiDel[i] = apiCounts{}, apiCounts{}
		}
		n := len(calls[0])
		for from := 0; from < n; from += seqBlock {
			for pi, p := range parts {
				// Scrapes sit outside the CPU window: they cost the daemon too.
				api0, _ := h.scrapeAPI(ctx, p)
				before := h.cpuSnap(p.daemonPID)
				for i := from; i < min(from+seqBlock, len(calls[pi])); i++ {
					d, err := timed(ctx, func(ctx context.Context) error { return p.sd.add(ctx, calls[pi][i]) })
					if err != nil {
						recordErr(p.res, "sequential ADD", err)
					} else {
						added[pi][i] = true
						adds[pi] = append(adds[pi], d)
					}
					if ctx.Err() != nil {
						return ctx.Err()
					}
				}
				cpu[pi] = cpu[pi].plus(h.cpuSnap(p.daemonPID).minus(before))
				if api1, ok := h.scrapeAPI(ctx, p); ok {
					apiAdd[pi].add(api1.minus(api0))
					apiFound[pi] = true
				}
			}
		}
		for from := 0; from < n; from += seqBlock {
			for pi, p := range parts {
				api0, _ := h.scrapeAPI(ctx, p)
				for i := from; i < min(from+seqBlock, len(calls[pi])); i++ {
					d, err := timed(ctx, func(ctx context.Context) error { return p.sd.del(ctx, calls[pi][i]) })
					switch {
					case err != nil:
						recordErr(p.res, "sequential DEL", err)
					case added[pi][i]:
						dels[pi] = append(dels[pi], d)
					}
					if ctx.Err() != nil {
						return ctx.Err()
					}
				}
				if api1, ok := h.scrapeAPI(ctx, p); ok {
					apiDel[pi].add(api1.minus(api0))
				}
			}
		}
		for pi, p := range parts {
			p.res.SeqAdd, p.res.SeqDel = Summarize(adds[pi]), Summarize(dels[pi])
			p.res.SeqAddCPU = cpu[pi].since(cpuSnap{}, len(adds[pi]), p.daemonPID > 0)
			if apiFound[pi] {
				p.res.SeqAddAPI, p.res.SeqDelAPI = perOp(apiAdd[pi], len(adds[pi])), perOp(apiDel[pi], len(dels[pi]))
			} else if p.daemonPID > 0 {
				h.notef("%s: no %s on its metrics endpoint: API requests per ADD/DEL not measured", p.name, APIRequestsMetric)
			}
		}
		return nil
	})
}

// scrapeAPI reads a subject's API request counter; ok is false for the
// floor, for a daemon without the counter, and after a failed scrape (which
// also stops further scrapes of that daemon and says so in the notes).
func (h *harness) scrapeAPI(ctx context.Context, p *participant) (apiCounts, bool) {
	if p.metricsPort == 0 {
		return nil, false
	}
	c, found, err := scrapeAPIRequests(ctx, p.metricsPort)
	if err != nil {
		h.notef("%s: %v; API requests per ADD/DEL not measured", p.name, err)
		p.metricsPort = 0
		return nil, false
	}
	return c, found
}

// cpuSnap is a reading of the CPU counters that matter (clock ticks).
type cpuSnap struct {
	daemon, daemonChildren, harness, harnessChildren, controlPlane int64
}

func (h *harness) cpuSnap(daemonPID int) cpuSnap {
	var c cpuSnap
	if daemonPID > 0 {
		if st, err := h.proc.Stat(daemonPID); err == nil {
			c.daemon, c.daemonChildren = st.CPUTicks, st.ChildCPUTicks
		}
	}
	if st, err := h.proc.Stat(os.Getpid()); err == nil {
		c.harness, c.harnessChildren = st.CPUTicks, st.ChildCPUTicks
	}
	for _, pid := range h.controlPlane {
		if st, err := h.proc.Stat(pid); err == nil {
			c.controlPlane += st.CPUTicks
		}
	}
	return c
}

func (c cpuSnap) minus(o cpuSnap) cpuSnap {
	return cpuSnap{c.daemon - o.daemon, c.daemonChildren - o.daemonChildren, c.harness - o.harness, c.harnessChildren - o.harnessChildren, c.controlPlane - o.controlPlane}
}

func (c cpuSnap) plus(o cpuSnap) cpuSnap {
	return cpuSnap{c.daemon + o.daemon, c.daemonChildren + o.daemonChildren, c.harness + o.harness, c.harnessChildren + o.harnessChildren, c.controlPlane + o.controlPlane}
}

// clockTick is USER_HZ, 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// since turns two readings into CPU per operation. In a subject's phase the
// harness's reaped children are the shims; in the floor's they are the
// plugins. The harness's own CPU is the libcni caller's (a runtime's part):
// in the floor's phase it does for the plugins what a daemon does for its
// delegates (configs, exec, result cache), without Kubernetes or a socket.
func (c cpuSnap) since(before cpuSnap, ops int, subject bool) CPUCost {
	if ops == 0 {
		return CPUCost{}
	}
	per := func(ticks int64) float64 {
		return float64(time.Duration(ticks)*clockTick) / float64(time.Millisecond) / float64(ops)
	}
	out := CPUCost{Ops: ops, ControlPlane: per(c.controlPlane - before.controlPlane), Caller: per(c.harness - before.harness)}
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
func (h *harness) burst(ctx context.Context, sd side, res *Side, pods []benchPodRef, daemonPID int) (Burst, error) {
	calls := h.newCalls(pods)
	b := Burst{Size: len(calls), Reps: 1}
	err := h.withNetns(ctx, calls, func() error {
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
		// Clean up with bounded concurrency; DEL latency here is not reported.
		return forEachBounded(ctx, len(calls), 10, func(ctx context.Context, i int) error {
			if _, err := timed(ctx, func(ctx context.Context) error { return sd.del(ctx, calls[i]) }); err != nil {
				recordErr(res, fmt.Sprintf("burst %d DEL", len(calls)), err)
			}
			return nil
		})
	})
	return b, err
}

// mergeBursts folds the repetitions of one burst size: the median wall
// time, every request's latency pooled, the worst peaks, the median settled
// RSS and all failures.
func mergeBursts(bs []Burst) Burst {
	if len(bs) == 0 {
		return Burst{}
	}
	out := Burst{Size: bs[0].Size, Reps: len(bs)}
	var walls, samples []float64
	var settled []int64
	for _, b := range bs {
		walls = append(walls, b.WallMS)
		samples = append(samples, b.PerRequest.Samples...)
		settled = append(settled, b.DaemonSettledRSSKiB)
		out.Failed += b.Failed
		out.DaemonPeakRSSKiB = max(out.DaemonPeakRSSKiB, b.DaemonPeakRSSKiB)
		out.DaemonPeakAnonKiB = max(out.DaemonPeakAnonKiB, b.DaemonPeakAnonKiB)
		out.DelegatesPeakRSSKiB = max(out.DelegatesPeakRSSKiB, b.DelegatesPeakRSSKiB)
		out.CallersPeakRSSKiB = max(out.CallersPeakRSSKiB, b.CallersPeakRSSKiB)
	}
	out.WallMS = SummarizeMS(walls).P50
	out.PerRequest = SummarizeMS(samples)
	out.DaemonSettledRSSKiB = MedianInt64(settled)
	return out
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

// latencyPhases runs the warm-ups, the sequential phase and the bursts,
// alternating between the sides.
func (h *harness) latencyPhases(ctx context.Context, parts []*participant) error {
	for _, p := range parts {
		if err := h.warmup(ctx, p); err != nil {
			return err
		}
	}
	if err := h.sequential(ctx, parts); err != nil {
		return fmt.Errorf("sequential: %w", err)
	}
	for _, p := range parts {
		h.log.Info("sequential done", "side", p.name, "add_p50_ms", round2(p.res.SeqAdd.P50), "del_p50_ms", round2(p.res.SeqDel.P50),
			"cpu_per_add_ms", round2(p.res.SeqAddCPU.Total()), "failed", p.res.Failed)
	}
	reps := max(h.params.BurstReps, 1)
	for si, size := range h.params.Bursts {
		runs := make([][]Burst, len(parts))
		for rep := range reps {
			for pi, p := range parts {
				b, err := h.burst(ctx, p.sd, p.res, p.bursts[si*reps+rep], p.daemonPID)
				if err != nil {
					return fmt.Errorf("burst of %d, %s: %w", size, p.name, err)
				}
				runs[pi] = append(runs[pi], b)
			}
		}
		for pi, p := range parts {
			b := mergeBursts(runs[pi])
			p.res.Bursts = append(p.res.Bursts, b)
			h.log.Info("burst done", "side", p.name, "size", size, "reps", reps, "wall_ms", round2(b.WallMS), "p50_ms", round2(b.PerRequest.P50),
				"daemon_peak_MiB", mib(b.DaemonPeakRSSKiB), "daemon_anon_peak_MiB", mib(b.DaemonPeakAnonKiB), "failed", b.Failed)
		}
	}
	return nil
}
