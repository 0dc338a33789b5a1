package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/client"
)

// Subject is a shim/daemon pair under test. Any pair that speaks the upstream
// socket protocol and reads the upstream daemon-config keys fits.
type Subject struct {
	Name   string
	Shim   string
	Daemon string
	// InCluster: the daemon only knows in-cluster credentials (upstream's
	// thick daemon), so it gets a service-account view of the API server
	// instead of a kubeconfig.
	InCluster bool
	// DaemonConfig holds daemon-config keys set on top of the harness's
	// (mt-bench -daemon-conf), so one binary can be measured with, say,
	// addedInterfaceEvents "perPod" next to its defaults.
	DaemonConfig map[string]json.RawMessage
}

// subjectDirs is the on-disk layout of one subject's daemon.
type subjectDirs struct {
	base       string // per-subject root
	socketDir  string // short, under os.TempDir: unix socket paths must stay < 108 bytes
	cniConfDir string // where the daemon writes 00-multus.conf
	cniDir     string // scratch delegate cache
	config     string // daemon-config.json
	log        string // daemon stdout+stderr
	node       string // MULTUS_NODE_NAME: the node the subject's pods are bound to
	// metricsPort is the daemon's loopback metrics listener (metricsPort,
	// metricsBindAddress), read for its API request counter.
	metricsPort int
	// inCluster, when set, replaces the kubeconfig (Subject.InCluster).
	inCluster *inCluster
	// saTarget is where inCluster.dir is mounted (ServiceAccountDir, resolved).
	saTarget string
}

// daemonConfig is the daemon-config.json the harness gives every subject.
// Upstream keys, plus kubeconfig unless the subject reads in-cluster
// credentials, and metricsBindAddress (ours) so the metrics listener stays
// on loopback.
// The subject's own DaemonConfig keys are set last.
func daemonConfig(s Subject, d subjectDirs, autoconfDir, pluginsDir, kubeconfig, logLevel string) map[string]any {
	conf := map[string]any{
		"cniVersion":          "1.0.0",
		"multusConfigFile":    "auto",
		"multusAutoconfigDir": autoconfDir,
		"cniConfigDir":        d.cniConfDir,
		"socketDir":           d.socketDir,
		"daemonSocketDir":     d.socketDir,
		"binDir":              pluginsDir,
		"cniDir":              d.cniDir,
		"kubeconfig":          kubeconfig,
		"logLevel":            logLevel,
		"logToStderr":         true,
	}
	if d.metricsPort > 0 {
		conf["metricsPort"] = d.metricsPort
		conf["metricsBindAddress"] = "127.0.0.1"
		// Loopback only, so a profile of the run can be taken from
		// http://127.0.0.1:<metricsPort>/debug/pprof/ (the port is in the log).
		conf["enablePprof"] = true
	}
	if d.inCluster != nil {
		delete(conf, "kubeconfig")
	}
	for k, v := range s.DaemonConfig {
		conf[k] = v
	}
	return conf
}

// daemonProc is a running daemon.
type daemonProc struct {
	cmd  *exec.Cmd
	pid  int
	done chan struct{} // closed when the process has exited
	err  error         // exit status, valid after done
	log  *os.File
}

// startDaemon starts the subject's daemon and waits until it is ready: its
// /readyz answers 200 and 00-multus.conf exists. It returns the time from
// exec to ready.
func startDaemon(ctx context.Context, s Subject, d subjectDirs, env []string, nodeName, kubeconfig string, timeout time.Duration) (*daemonProc, time.Duration, error) {
	logf, err := os.OpenFile(d.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, 0, err
	}
	fmt.Fprintf(logf, "=== %s start %s\n", s.Name, time.Now().UTC().Format(time.RFC3339Nano))
	// Not CommandContext: the harness stops the daemon itself (SIGTERM,
	// then SIGKILL) so its graceful shutdown is exercised.
	cmd := exec.Command(s.Daemon, "-config", d.config)
	cmd.Env = append(slices.Clone(env), "MULTUS_NODE_NAME="+nodeName)
	if d.inCluster != nil {
		cmd.Env = append(cmd.Env, d.inCluster.env...)
	} else {
		cmd.Env = append(cmd.Env, "KUBECONFIG="+kubeconfig)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a terminal's ^C reaches the harness, which then
	// stops the daemon in order instead of both racing. Pdeathsig covers the
	// case the harness cannot clean up (SIGKILL): the daemon goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	p := &daemonProc{cmd: cmd, done: make(chan struct{}), log: logf}
	exited := func(err error) {
		p.err = err
		close(p.done)
	}
	start := time.Now()
	if d.inCluster != nil {
		err = startInMountNS(cmd, d.inCluster.dir, d.saTarget, exited)
	} else if err = cmd.Start(); err == nil {
		go func() { exited(cmd.Wait()) }()
	}
	if err != nil {
		logf.Close()
		return nil, 0, fmt.Errorf("start %s: %w", s.Daemon, err)
	}
	p.pid = cmd.Process.Pid

	sock := client.New(filepath.Join(d.socketDir, api.SocketName))
	conf := filepath.Join(d.cniConfDir, "00-multus.conf")
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(conf); err == nil && ready(ctx, sock) {
			return p, time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return nil, 0, errors.Join(ctx.Err(), p.stop(10*time.Second))
		case <-p.done:
			return nil, 0, fmt.Errorf("daemon %s exited before ready (%v); log %s: %s", s.Name, p.err, d.log, tail(d.log, 800))
		case <-deadline.C:
			return nil, 0, errors.Join(fmt.Errorf("daemon %s not ready after %s; log %s: %s", s.Name, timeout, d.log, tail(d.log, 800)), p.stop(10*time.Second))
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM and, after grace, SIGKILL; it waits for the exit.
func (p *daemonProc) stop(grace time.Duration) error {
	if p == nil {
		return nil
	}
	defer p.log.Close()
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("daemon pid %d ignored SIGTERM for %s and was killed", p.pid, grace)
}

func (p *daemonProc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// ready is one readiness probe as the shim sends it, bounded so a wedged
// daemon cannot stall the wait loop.
func ready(ctx context.Context, c *client.Client) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return c.Readyz(ctx) == nil
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// tail returns the last n bytes of a file, for error messages.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return strings.TrimSpace(string(data))
}
