package bench

import (
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/containernetworking/cni/libcni"
	corev1 "k8s.io/api/core/v1"
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

func (p Params) settle() time.Duration      { return time.Duration(p.SettleMS) * time.Millisecond }
func (p Params) idleSettle() time.Duration  { return time.Duration(p.IdleSettleMS) * time.Millisecond }
func (p Params) sampleEvery() time.Duration { return time.Duration(p.SampleEveryMS) * time.Millisecond }

// maxDuration bounds a whole run, so a wedged component cannot hold the
// machine: generous multiples of the expected 1.5 and 6 minutes.
func (p Params) maxDuration() time.Duration {
	if p.ForeignPods <= 1000 {
		return 4 * time.Minute
	}
	return 20 * time.Minute
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
	ctx, cancel := context.WithTimeout(ctx, params.maxDuration())
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
		if err := h.runLoaded(ctx, s, &h.rep.Subjects[i]); err != nil {
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

// setup prepares the host and the API server; each step registers the
// cleanup of what it made.
func (h *harness) setup(ctx context.Context) error {
	for _, st := range []phase{
		{"sweep leftovers", h.sweepLeftovers},
		{"work dirs", h.makeWorkDirs},
		{"networks", h.makeNetworks},
		{"API server", h.startAPIServer},
		{"bench objects", h.createObjects},
		{"in-cluster credentials", h.setupInCluster},
	} {
		if err := st.run(ctx); err != nil {
			return fmt.Errorf("setup: %s: %w", st.name, err)
		}
	}
	return nil
}

func (h *harness) sweepLeftovers(ctx context.Context) error {
	// A run killed with SIGKILL leaves namespaces and links behind; they all
	// start with "mtb", so sweep them first.
	if n, err := (host{prefix: "mtb", ip: h.cfg.IPBin}).sweep(ctx); err != nil {
		return err
	} else if n > 0 {
		h.log.Info("removed leftovers of an earlier run", "count", n)
	}
	h.onCleanup(func(ctx context.Context) error {
		_, err := h.host.sweep(ctx)
		return err
	})
	return nil
}

func (h *harness) makeWorkDirs(context.Context) error {
	var err error
	if h.work, err = os.MkdirTemp("", "mt-bench-"); err != nil {
		return err
	}
	h.onCleanup(func(context.Context) error { return os.RemoveAll(h.work) })
	h.autoconf = filepath.Join(h.work, "autoconf")
	h.ipamDir = filepath.Join(h.work, "ipam")
	for _, d := range []string{h.autoconf, h.ipamDir, h.cfg.OutDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}

	return nil
}

// makeNetworks makes the macvlan master and writes the cluster network's
// conflist and the NAD's config.
func (h *harness) makeNetworks(ctx context.Context) error {
	// The macvlan master: a veth pair on the host (no dummy links here).
	h.master = h.prefix + "m0"
	if err := h.host.addVethUp(ctx, h.master, h.prefix+"m1"); err != nil {
		return err
	}
	// The cluster network: a bridge without a host address or masquerade,
	// so nothing the pods hold is routable from or to the host.
	cluster := map[string]any{
		"cniVersion": "1.0.0",
		"name":       clusterNet,
		"plugins": []any{map[string]any{
			"type": "bridge", "bridge": h.prefix + "br", "isGateway": false, "ipMasq": false,
			"ipam": map[string]any{"type": "host-local", "dataDir": filepath.Join(h.ipamDir, "cluster"),
				"ranges": [][]map[string]string{{{"subnet": "10.250.0.0/16"}}}},
		}},
	}
	if err := writeJSON(filepath.Join(h.autoconf, "10-bench-cluster.conflist"), cluster); err != nil {
		return err
	}
	var err error
	if h.nadConf, err = json.Marshal(map[string]any{
		"cniVersion": "1.0.0", "name": macvlanNAD, "type": "macvlan", "master": h.master, "mode": "bridge",
		"ipam": map[string]any{"type": "host-local", "dataDir": filepath.Join(h.ipamDir, "macvlan"),
			"ranges": [][]map[string]string{{{"subnet": "10.251.0.0/16"}}}},
	}); err != nil {
		return err
	}
	return nil
}

// startAPIServer starts envtest's kube-apiserver and etcd and notes their
// pids, whose CPU the daemons' API traffic costs.
func (h *harness) startAPIServer(context.Context) error {
	assets, err := ResolveAssets(h.cfg.AssetDirs)
	if err != nil {
		return err
	}
	h.log.Info("starting kube-apiserver and etcd (envtest)", "apiserver", assets.APIServer, "etcd", assets.Etcd)
	start := time.Now()
	if h.cl, err = startCluster(assets, h.work); err != nil {
		return err
	}
	h.onCleanup(func(context.Context) error { return h.cl.stop() })
	h.log.Info("API server ready", "took", time.Since(start).Round(time.Millisecond))
	if snap, err := h.proc.Snapshot(); err == nil {
		for _, p := range snap {
			if p.PPID == os.Getpid() && (p.Comm == "etcd" || p.Comm == "kube-apiserver") {
				h.controlPlane = append(h.controlPlane, p.PID)
			}
		}
	}

	return nil
}

// createObjects creates the namespaces, the NAD and every side's pods.
func (h *harness) createObjects(ctx context.Context) error {
	for _, ns := range []string{benchNS, foreignNS} {
		if err := h.cl.ensureNamespace(ctx, ns); err != nil {
			return err
		}
	}
	if err := h.cl.createNAD(ctx, benchNS, macvlanNAD, string(h.nadConf)); err != nil {
		return err
	}
	// Each subject gets its own pods, so two daemons never write the same
	// pod's status; the floor needs no objects.
	n := h.params.Warmup + h.params.SeqPods
	for _, b := range h.params.Bursts {
		n += b * max(h.params.BurstReps, 1)
	}
	var objs []*corev1.Pod
	for k := range h.cfg.Subjects {
		for i := range n {
			objs = append(objs, benchPod(benchNS, fmt.Sprintf("s%d-%d", k, i), h.cfg.NodeName, macvlanNAD))
		}
	}
	uids, err := h.cl.createPods(ctx, objs, 16)
	if err != nil {
		return err
	}
	h.pods = make([][]benchPodRef, len(h.cfg.Subjects)+1)
	for k := range h.pods {
		for i := range n {
			name := fmt.Sprintf("s%d-%d", k, i)
			if k == len(h.cfg.Subjects) {
				name = fmt.Sprintf("floor-%d", i)
			}
			h.pods[k] = append(h.pods[k], benchPodRef{namespace: benchNS, name: name, uid: string(uids[name])})
		}
	}
	h.log.Info("bench objects created", "pods", len(objs), "node", h.cfg.NodeName)
	return nil
}

// setupInCluster prepares the service-account view for the subjects that
// only know in-cluster credentials: a token, the mount point, and
// /run/netns as a shared mount (what `ip netns add` makes it), so that the
// namespaces created after such a daemon starts reach its mount namespace.
func (h *harness) setupInCluster(ctx context.Context) error {
	if !slices.ContainsFunc(h.cfg.Subjects, func(s Subject) bool { return s.InCluster }) {
		return nil
	}
	probe := []string{h.prefix + "-probe"}
	if err := h.host.addNetns(ctx, probe); err != nil {
		return err
	}
	if err := h.host.delNetns(ctx, probe); err != nil {
		return err
	}
	target, undo, err := mountPoint(ServiceAccountDir)
	if err != nil {
		return fmt.Errorf("service-account mount point: %w", err)
	}
	h.onCleanup(func(context.Context) error { return undo() })
	h.saTarget = target
	if h.saToken, err = h.cl.serviceAccountToken(ctx, "kube-system", "multus"); err != nil {
		return err
	}
	return nil
}

// participantFor cuts side k's pods into warm-up, sequential and burst groups.
func (h *harness) participantFor(k int, name string, sd side, res *Side, daemonPID int) *participant {
	pods := h.pods[k]
	i := 0
	take := func(n int) []benchPodRef {
		out := pods[i : i+n]
		i += n
		return out
	}
	p := &participant{name: name, sd: sd, res: res, daemonPID: daemonPID}
	p.warm = take(h.params.Warmup)
	p.seq = take(h.params.SeqPods)
	for _, b := range h.params.Bursts {
		for range max(h.params.BurstReps, 1) {
			p.bursts = append(p.bursts, take(b))
		}
	}
	return p
}

func (h *harness) stopDaemons() {
	for _, d := range h.daemons {
		_ = d.stop(10 * time.Second)
	}
	h.daemons = nil
}

func (h *harness) subjectDirs(s Subject) (subjectDirs, error) {
	base := filepath.Join(h.work, "subjects", s.Name)
	sock, err := os.MkdirTemp("", "mt")
	if err != nil {
		return subjectDirs{}, err
	}
	h.onCleanup(func(context.Context) error { return os.RemoveAll(sock) })
	d := subjectDirs{
		base: base, socketDir: sock,
		cniConfDir: filepath.Join(base, "net.d"), cniDir: filepath.Join(base, "cni"),
		config: filepath.Join(base, "daemon-config.json"),
		log:    filepath.Join(h.cfg.OutDir, "daemon-"+s.Name+".log"),
	}
	if d.metricsPort, err = freeLoopbackPort(); err != nil {
		return subjectDirs{}, err
	}
	if s.InCluster {
		view, err := writeInCluster(filepath.Join(base, "serviceaccount"), h.cl.host, h.saToken, h.cl.caData, "kube-system")
		if err != nil {
			return subjectDirs{}, fmt.Errorf("subject %s: %w", s.Name, err)
		}
		d.inCluster, d.saTarget = &view, h.saTarget
	}
	for _, dir := range []string{d.cniConfDir, d.cniDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return subjectDirs{}, err
		}
	}
	return d, writeJSON(d.config, daemonConfig(d, h.autoconf, h.cfg.PluginsDir, h.cl.kubeconfigPath, h.cfg.DaemonLogLevel))
}

// startTracked starts the subject's daemon and registers its stop.
func (h *harness) startTracked(ctx context.Context, s Subject, d subjectDirs) (*daemonProc, time.Duration, error) {
	p, took, err := startDaemon(ctx, s, d, h.cfg.Env, h.cfg.NodeName, h.cl.kubeconfigPath, daemonTimeout)
	if err != nil {
		return nil, 0, err
	}
	h.onCleanup(func(context.Context) error { return p.stop(10 * time.Second) })
	return p, took, nil
}

// startRepeated starts the subject's daemon n times, measuring start to
// ready each time, and stops all but the last, which it returns running.
func (h *harness) startRepeated(ctx context.Context, s Subject, d subjectDirs, n int, res *SubjectResult) (*daemonProc, Dist, error) {
	var p *daemonProc
	var starts []time.Duration
	for i := range n {
		var took time.Duration
		var err error
		if p, took, err = h.startTracked(ctx, s, d); err != nil {
			return nil, Dist{}, err
		}
		starts = append(starts, took)
		h.log.Info("daemon ready", "subject", s.Name, "start", i+1, "took", took.Round(time.Millisecond))
		if i < n-1 {
			if err := p.stop(10 * time.Second); err != nil {
				res.FirstErrors = append(res.FirstErrors, err.Error())
			}
		}
	}
	return p, Summarize(starts), nil
}

// prepareSubject starts the subject's daemon (start to ready, repeated),
// reads its idle RSS and measures the shim as a process. The last daemon
// keeps running for the latency phases.
func (h *harness) prepareSubject(ctx context.Context, k int, s Subject, res *SubjectResult) (*participant, error) {
	*res = SubjectResult{Name: s.Name, Shim: s.Shim, Daemon: s.Daemon, ShimVersion: binVersion(ctx, s.Shim)}
	d, err := h.subjectDirs(s)
	if err != nil {
		return nil, err
	}
	// Start to ready, repeated; the last daemon stays up for the rest.
	p, starts, err := h.startRepeated(ctx, s, d, h.params.Starts, res)
	if err != nil {
		return nil, err
	}
	res.StartToReady = starts
	h.daemons = append(h.daemons, p)

	if err := sleepCtx(ctx, h.params.idleSettle()); err != nil {
		return nil, err
	}
	st, err := h.proc.Status(p.pid)
	if err != nil {
		return nil, err
	}
	res.IdleRSSKiB, res.IdleAnonKiB, res.IdleFileKiB = st.RSSKiB, st.AnonKiB, st.FileKiB
	h.log.Info("idle RSS, empty cluster", "subject", s.Name, "MiB", mib(st.RSSKiB), "anon_MiB", mib(st.AnonKiB), "file_MiB", mib(st.FileKiB))

	confPath := filepath.Join(d.cniConfDir, "00-multus.conf")
	confBytes, err := os.ReadFile(confPath)
	if err != nil {
		return nil, err
	}
	plugin, err := libcni.NetworkPluginConfFromBytes(confBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", confPath, err)
	}
	list, err := libcni.ConfListFromConf(plugin)
	if err != nil {
		return nil, err
	}
	// libcni finds the shim by the conf's "type" in a bin dir: point that
	// name at the binary under test.
	shimDir := filepath.Join(d.base, "bin")
	if err := os.MkdirAll(shimDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Symlink(s.Shim, filepath.Join(shimDir, plugin.Network.Type)); err != nil {
		return nil, err
	}
	rec := &recordingExec{}
	sd := shimSide{cni: libcni.NewCNIConfigWithCacheDir([]string{shimDir}, filepath.Join(d.base, "runtime-cache"), rec), list: list}

	if err := h.shimProcCost(ctx, s, shimDir, confBytes, &res.Side); err != nil {
		return nil, err
	}
	part := h.participantFor(k, s.Name, sd, &res.Side, p.pid)
	part.metricsPort = d.metricsPort
	return part, nil
}

// shimProcCost measures the shim as a process: VERSION (answered without the
// daemon) and DEL of a container nobody knows (one round trip).
func (h *harness) shimProcCost(ctx context.Context, s Subject, shimDir string, conf []byte, res *Side) error {
	var err error
	res.Version, err = h.execCost(ctx, "shim VERSION", s.Shim, func() map[string]string {
		return map[string]string{"CNI_COMMAND": "VERSION", "CNI_PATH": shimDir}
	}, []byte(`{"cniVersion":"1.0.0"}`), res)
	if err != nil {
		return err
	}
	res.DelUnknown, err = h.execCost(ctx, "shim DEL of an unknown container", s.Shim, func() map[string]string {
		c := podCall{namespace: benchNS, name: "no-such-pod", containerID: randomID(32)}
		return map[string]string{
			"CNI_COMMAND": "DEL", "CNI_CONTAINERID": c.containerID, "CNI_NETNS": "", "CNI_IFNAME": "eth0",
			"CNI_ARGS": cniArgs(c), "CNI_PATH": shimDir,
		}
	}, conf, res)
	return err
}

// execCost measures a plugin binary as a runtime runs it: vars (fresh for
// every run, plus PATH) in its environment and stdin as its config.
func (h *harness) execCost(ctx context.Context, what, bin string, vars func() map[string]string, stdin []byte, res *Side) (ProcCost, error) {
	return procCost(ctx, h.params.ProcRuns, h.cfg.TimeBin, what, func(ctx context.Context, timeBin string) (ProcRun, error) {
		run, _, err := RunProcess(ctx, timeBin, bin, envList(vars(), h.cfg.path()), stdin)
		return run, err
	}, res)
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

// prepareFloor builds the floor's libcni side and measures its process costs.
func (h *harness) prepareFloor(ctx context.Context, res *FloorResult) (*participant, error) {
	clusterList, err := libcni.ConfListFromFile(filepath.Join(h.autoconf, "10-bench-cluster.conflist"))
	if err != nil {
		return nil, err
	}
	macvlan, err := libcni.NetworkPluginConfFromBytes(h.nadConf)
	if err != nil {
		return nil, err
	}
	newFloor := func(rec *recordingExec) floorSide {
		return floorSide{
			cni:     libcni.NewCNIConfigWithCacheDir([]string{h.cfg.PluginsDir}, filepath.Join(h.work, "floor-cache"), rec),
			cluster: clusterList, macvlan: macvlan,
		}
	}
	fs := newFloor(&recordingExec{})
	rssRec := &recordingExec{timeBin: h.cfg.TimeBin}
	fsRSS := newFloor(rssRec)
	bridge := filepath.Join(h.cfg.PluginsDir, "bridge")
	if res.Version, err = h.execCost(ctx, "bridge VERSION", bridge, func() map[string]string {
		return map[string]string{"CNI_COMMAND": "VERSION"}
	}, []byte(`{"cniVersion":"1.0.0"}`), &res.Side); err != nil {
		return nil, err
	}
	if res.DelUnknown, err = procCost(ctx, h.params.ProcRuns, h.cfg.TimeBin, "delegates' DEL of an unknown container", func(ctx context.Context, timeBin string) (ProcRun, error) {
		side := fs
		if timeBin != "" {
			side = fsRSS
		}
		rssRec.take()
		c := podCall{namespace: benchNS, name: "no-such-pod", containerID: randomID(32)}
		wall, err := timed(ctx, func(ctx context.Context) error { return side.del(ctx, c) })
		run := ProcRun{Plugin: "delegates", Wall: wall, Err: err}
		for _, r := range rssRec.take() {
			run.MaxRSSKiB = max(run.MaxRSSKiB, r.MaxRSSKiB)
		}
		return run, err
	}, &res.Side); err != nil {
		return nil, err
	}
	return h.participantFor(len(h.cfg.Subjects), "floor", fs, &res.Side, 0), nil
}

// populateForeign fills the API with pods bound to other nodes and NADs, the
// objects a daemon must not pay for (pods) or pays little for (NADs).
func (h *harness) populateForeign(ctx context.Context) error {
	start := time.Now()
	if err := forEachBounded(ctx, h.params.ForeignNADs, 16, func(ctx context.Context, i int) error {
		conf := fmt.Sprintf(`{"cniVersion":"1.0.0","name":"foreign-%d","type":"macvlan","master":"eth0","ipam":{"type":"host-local","subnet":"10.%d.%d.0/24"}}`, i, 100+i/256, i%256)
		return h.cl.createNAD(ctx, foreignNS, fmt.Sprintf("foreign-%d", i), conf)
	}); err != nil {
		return err
	}
	pods := make([]*corev1.Pod, h.params.ForeignPods)
	for i := range pods {
		pods[i] = benchPod(foreignNS, fmt.Sprintf("foreign-%d", i), fmt.Sprintf("other-node-%d", i%50), fmt.Sprintf("foreign-%d", i%max(1, h.params.ForeignNADs)))
	}
	if _, err := h.cl.createPods(ctx, pods, 32); err != nil {
		return err
	}
	h.log.Info("foreign objects created", "pods", h.params.ForeignPods, "nads", h.params.ForeignNADs, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// runLoaded restarts the subject's daemon with the foreign objects in the
// API and measures start to ready and idle RSS again.
func (h *harness) runLoaded(ctx context.Context, s Subject, res *SubjectResult) error {
	d, err := h.subjectDirs(s)
	if err != nil {
		return err
	}
	p, starts, err := h.startRepeated(ctx, s, d, min(h.params.Starts, 3), res)
	if err != nil {
		return err
	}
	defer func() { _ = p.stop(10 * time.Second) }()
	res.StartToReadyLoaded = starts
	if err := sleepCtx(ctx, h.params.idleSettle()); err != nil {
		return err
	}
	st, err := h.proc.Status(p.pid)
	if err != nil {
		return err
	}
	res.IdleRSSLoadedKiB, res.IdleLoadedAnonKiB = st.RSSKiB, st.AnonKiB
	h.log.Info("idle RSS, loaded cluster", "subject", s.Name, "MiB", mib(st.RSSKiB), "anon_MiB", mib(st.AnonKiB))
	return nil
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
