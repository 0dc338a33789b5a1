package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is everything a run needs; cmd/mt-bench fills it from flags and env.
type Config struct {
	Mode       string // "quick" or "full"
	Subjects   []Subject
	PluginsDir string   // reference CNI plugins (bridge, macvlan, host-local)
	AssetDirs  []string // folders searched for kube-apiserver, etcd, kubectl
	OutDir     string   // _artifacts/bench
	NodeName   string
	Commit     string
	IPBin      string // iproute2's ip
	TimeBin    string // GNU time, for the peak RSS of short processes; "" skips those figures
	// DaemonLogLevel goes into daemon-config (upstream names: debug, verbose,
	// error, panic); "error" keeps logging out of the figures.
	DaemonLogLevel string
	// Env is the environment the daemons and plugins start with (the
	// caller's, normally); PATH in it is the plugins' PATH.
	Env []string
}

// path is PATH from cfg.Env.
func (c Config) path() string {
	for _, kv := range c.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			return v
		}
	}
	return ""
}

// ParamsFor returns the counts and pauses of a mode. quick fits in under two
// minutes on a 2-core machine; full is the one whose figures get quoted.
func ParamsFor(mode string) (Params, error) {
	switch mode {
	case "quick":
		// The burst of 50 is left out: quick keeps the smallest and the
		// largest burst and stays under two minutes on a busy 2-core machine.
		return Params{SeqPods: 20, Warmup: 2, Bursts: []int{10, 100}, BurstReps: 1, ProcRuns: 10, Starts: 2,
			ForeignPods: 1000, ForeignNADs: 100, SettleMS: 1000, IdleSettleMS: 3000, SampleEveryMS: 10}, nil
	case "full", "":
		return Params{SeqPods: 100, Warmup: 3, Bursts: []int{10, 50, 100}, BurstReps: 3, ProcRuns: 50, Starts: 5,
			ForeignPods: 5000, ForeignNADs: 500, SettleMS: 3000, IdleSettleMS: 10000, SampleEveryMS: 10}, nil
	default:
		return Params{}, fmt.Errorf("unknown mode %q (want quick or full)", mode)
	}
}

// podsPerSubject is how many pod objects one subject's phases use.
func (p Params) podsPerSubject() int {
	n := p.Warmup + p.SeqPods
	for _, b := range p.Bursts {
		n += b * max(p.BurstReps, 1)
	}
	return n
}

func (p Params) settle() time.Duration      { return time.Duration(p.SettleMS) * time.Millisecond }
func (p Params) idleSettle() time.Duration  { return time.Duration(p.IdleSettleMS) * time.Millisecond }
func (p Params) sampleEvery() time.Duration { return time.Duration(p.SampleEveryMS) * time.Millisecond }

// maxDuration bounds a whole run, so a wedged component cannot hold the
// machine: generous multiples of the expected 1.5 and 6 minutes for one
// subject and the floor, times the number of subjects (each adds its own
// phases).
func (p Params) maxDuration(subjects int) time.Duration {
	per := 20 * time.Minute
	if p.ForeignPods <= 1000 {
		per = 4 * time.Minute
	}
	return per * time.Duration(max(1, subjects))
}

const (
	benchNS       = "mt-bench"
	foreignNS     = "mt-bench-foreign"
	macvlanNAD    = "bench-macvlan"
	clusterNet    = "bench-cluster"
	daemonTimeout = 60 * time.Second
)

type benchPodRef struct{ namespace, name, uid string }

type harness struct {
	cfg      Config
	params   Params
	log      *slog.Logger
	prefix   string
	host     host
	proc     ProcFS
	work     string
	autoconf string
	ipamDir  string
	master   string
	cl       *cluster
	// controlPlane holds the envtest kube-apiserver and etcd pids, whose CPU
	// the daemon's API traffic costs.
	controlPlane []int
	pods         [][]benchPodRef // per subject, the floor's last
	daemons      []*daemonProc   // running during the latency phases
	netnsSeq     int
	nadConf      []byte
	cleanups     []func(context.Context) error
	// saToken and saTarget serve the subjects that read in-cluster
	// credentials (Subject.InCluster); empty when there are none.
	saToken  []byte
	saTarget string
	// notes end up in the report's notes (what was not measured, and why).
	notes []string
	// rep is the report the phases fill in; parts are the prepared sides
	// (subjects, then the floor) the latency phases alternate between.
	rep   *Report
	parts []*participant
}

// phase is one named step of a run over the harness's shared state.
type phase struct {
	name string
	run  func(context.Context) error
}

// phases is the order of a run: every side is prepared first (daemons
// started and left running), so the latency phases can alternate between
// sides; the loaded-cluster restarts come last because the foreign objects
// stay.
func (h *harness) phases() []phase {
	return []phase{
		{"setup", h.setup},
		{"prepare subjects", h.prepareSubjects},
		{"prepare floor", h.prepareFloorSide},
		{"latency", h.latency},
		{"loaded cluster", h.loaded},
	}
}

func (h *harness) notef(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	if !slices.Contains(h.notes, n) {
		h.notes = append(h.notes, n)
	}
}

// Run performs the whole benchmark and writes bench.json, bench.md and
// latency.svg into cfg.OutDir. What it created is removed before it returns,
// also when ctx is cancelled (interrupt) or a phase fails; a failed phase
// still leaves the figures gathered so far in the report.
func Run(ctx context.Context, cfg Config, log *slog.Logger) (rep Report, err error) {
	params, err := ParamsFor(cfg.Mode)
	if err != nil {
		return Report{}, err
	}
	if os.Geteuid() != 0 {
		return Report{}, errors.New("the node-level benchmark needs root (network namespaces, links)")
	}
	ctx, cancel := context.WithTimeout(ctx, params.maxDuration(len(cfg.Subjects)))
	defer cancel()

	h := &harness{cfg: cfg, params: params, log: log, proc: HostProc()}
	h.prefix = "mtb" + randomID(2)
	h.host = host{prefix: h.prefix, ip: cfg.IPBin}
	rep = Report{Mode: cfg.Mode, Started: time.Now().UTC(), Params: params, Machine: describeMachine(cfg.Commit)}
	rep.Floor.Description = "the same delegates through libcni, no shim or daemon: bridge + host-local on eth0, then macvlan + host-local on net1 (DEL in reverse order); " +
		"VERSION row: the bridge plugin; unknown-container DEL row: the delegates' DELs, RSS of the largest."
	defer func() {
		// Cleanup must run even if ctx is done (interrupt): give it its own time.
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 90*time.Second)
		defer ccancel()
		err = errors.Join(err, h.cleanup(cctx))
		rep.Notes = append(rep.Notes, h.notes...)
		rep.Finished = time.Now().UTC()
		err = errors.Join(err, h.writeOutputs(rep))
	}()

	if cfg.TimeBin == "" {
		rep.Notes = append(rep.Notes, "peak RSS of short processes (VERSION, unknown-container DEL) not measured: no GNU time")
	}
	h.rep = &rep
	for _, ph := range h.phases() {
		if err := ph.run(ctx); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (h *harness) prepareSubjects(ctx context.Context) error {
	h.rep.Subjects = make([]SubjectResult, len(h.cfg.Subjects))
	for i, s := range h.cfg.Subjects {
		p, err := h.prepareSubject(ctx, i, s, &h.rep.Subjects[i])
		if err != nil {
			h.rep.Subjects = h.rep.Subjects[:i+1]
			return fmt.Errorf("subject %s: %w", s.Name, err)
		}
		h.parts = append(h.parts, p)
	}
	return nil
}

func (h *harness) prepareFloorSide(ctx context.Context) error {
	floor, err := h.prepareFloor(ctx, &h.rep.Floor)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	h.parts = append(h.parts, floor)
	return nil
}

func (h *harness) latency(ctx context.Context) error {
	if err := h.latencyPhases(ctx, h.parts); err != nil {
		return err
	}
	h.stopDaemons()
	return nil
}

// loaded fills the API with foreign objects and restarts every subject's
// daemon against it (nothing to do for a floor-only run).
func (h *harness) loaded(ctx context.Context) error {
	if len(h.cfg.Subjects) == 0 {
		return nil
	}
	if err := h.populateForeign(ctx); err != nil {
		return fmt.Errorf("foreign objects: %w", err)
	}
	for i, s := range h.cfg.Subjects {
		if err := h.runLoaded(ctx, i, s, &h.rep.Subjects[i]); err != nil {
			return fmt.Errorf("subject %s, loaded cluster: %w", s.Name, err)
		}
	}
	return nil
}

func (h *harness) onCleanup(fn func(context.Context) error) { h.cleanups = append(h.cleanups, fn) }

func (h *harness) cleanup(ctx context.Context) error {
	var errs []error
	for i := len(h.cleanups) - 1; i >= 0; i-- {
		errs = append(errs, h.cleanups[i](ctx))
	}
	h.cleanups = nil
	return errors.Join(errs...)
}

func (h *harness) writeOutputs(rep Report) error {
	if err := os.MkdirAll(h.cfg.OutDir, 0o755); err != nil {
		return err
	}
	var errs []error
	errs = append(errs, writeJSON(filepath.Join(h.cfg.OutDir, "bench.json"), rep))
	errs = append(errs, os.WriteFile(filepath.Join(h.cfg.OutDir, "bench.md"), []byte(rep.Markdown()), 0o644))
	errs = append(errs, os.WriteFile(filepath.Join(h.cfg.OutDir, "latency.svg"), RenderECDF(rep.PlotPanels()), 0o644))
	return errors.Join(errs...)
}

// binVersion asks a binary for -version (informational; upstream's daemon
// exits non-zero after printing it, so the exit status is ignored).
func binVersion(ctx context.Context, bin string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin, "-version").CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

func mib(kib int64) float64    { return round2(float64(kib) / 1024) }
func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// describeMachine reads the CPU model, memory and kernel from /proc.
func describeMachine(commit string) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Commit: commit}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range bytes.Lines(data) {
			if k, v, ok := bytes.Cut(line, []byte(":")); ok && strings.TrimSpace(string(k)) == "model name" {
				m.CPU = strings.TrimSpace(string(v))
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range bytes.Lines(data) {
			if f := strings.Fields(string(line)); len(f) >= 2 && f[0] == "MemTotal:" {
				if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					m.MemMiB = n / 1024
				}
			}
		}
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(data)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	return m
}
