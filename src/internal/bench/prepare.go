package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/containernetworking/cni/libcni"
)

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

// subjectDirs lays out subject k's directories and daemon config; its
// daemon runs as node nodeFor(k).
func (h *harness) subjectDirs(k int, s Subject) (subjectDirs, error) {
	base := filepath.Join(h.work, "subjects", s.Name)
	sock, err := os.MkdirTemp("", "mt")
	if err != nil {
		return subjectDirs{}, err
	}
	h.onCleanup(func(context.Context) error { return os.RemoveAll(sock) })
	d := subjectDirs{
		base: base, socketDir: sock, node: h.nodeFor(k),
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
	return d, writeJSON(d.config, daemonConfig(s, d, h.autoconf, h.cfg.PluginsDir, h.cl.kubeconfigPath, h.cfg.DaemonLogLevel))
}

// startTracked starts the subject's daemon and registers its stop.
func (h *harness) startTracked(ctx context.Context, s Subject, d subjectDirs) (*daemonProc, time.Duration, error) {
	p, took, err := startDaemon(ctx, s, d, h.cfg.Env, d.node, h.cl.kubeconfigPath, daemonTimeout)
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
	d, err := h.subjectDirs(k, s)
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
