//go:build netns

package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/client"
	"github.com/multus-thick/multus-thick/src/internal/testutil"
)

// The drain, with the real daemon process, the real shim and upstream's
// probe-once DEL (mt-oldshim): after SIGTERM /readyz answers 500 at once,
// /healthz still 200, and DELs sent in the window (by either shim) are
// answered by the draining daemon and release their delegates. Timings are
// logged, measured from the signal.
func TestDaemonProcessDrain(t *testing.T) {
	e := newProcEnv(t, map[string]any{"shutdownDrainPeriod": "8s", "shutdownGracePeriod": "5s"})
	oldshim := filepath.Join(e.bin, "mt-oldshim")
	if _, err := os.Stat(oldshim); err != nil {
		t.Fatalf("missing %s (run make build): %v", oldshim, err)
	}
	e.start()
	conf := e.conf()
	pods := map[string]ns.NetNS{"c0ffee0d01": testutil.NewNetns(t), "c0ffee0d02": testutil.NewNetns(t)}
	for id, pod := range pods {
		if _, err := e.shim("ADD", id, pod, "p-"+id, conf); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"mtnet", "second"} {
		if r := e.reserved(n); len(r) != 2 {
			t.Fatalf("network %s reserves %v before the drain, want 2", n, r)
		}
	}

	c := client.New(api.SocketPath(e.sockDir))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t0 := time.Now()
	since := func() time.Duration { return time.Since(t0).Round(time.Millisecond) }
	if err := e.daemon.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	t.Logf("t=0: SIGTERM sent (shutdownDrainPeriod 8s, shutdownGracePeriod 5s)")
	for c.Readyz(ctx) == nil {
		if time.Since(t0) > 5*time.Second {
			t.Fatal("/readyz still answers 200 5 s after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("t=%s: /readyz answers 500", since())
	if err := c.Healthz(ctx); err != nil {
		t.Fatalf("t=%s: /healthz during the drain: %v", since(), err)
	}
	t.Logf("t=%s: /healthz answers 200", since())

	// Our shim's DEL, then upstream's probe-once DEL, both in the window.
	if _, err := e.shim("DEL", "c0ffee0d01", pods["c0ffee0d01"], "p-c0ffee0d01", conf); err != nil {
		t.Fatalf("DEL during the drain: %v", err)
	}
	t.Logf("t=%s: DEL through multus-shim done", since())
	oldLog := filepath.Join(e.root, "oldshim.log")
	e.oldShimDel(oldshim, oldLog, "c0ffee0d02", pods["c0ffee0d02"], conf)
	t.Logf("t=%s: DEL through mt-oldshim (probe /healthz once) done", since())
	if log, _ := os.ReadFile(oldLog); !strings.Contains(string(log), "c0ffee0d02 sent") {
		t.Errorf("mt-oldshim did not reach the draining daemon: %q", log)
	}
	select {
	case <-e.exited:
		t.Fatalf("t=%s: daemon exited before the DELs were checked; the drain window was too short for this machine", since())
	default:
	}
	if err := c.Healthz(ctx); err != nil {
		t.Errorf("t=%s: /healthz after the DELs: %v", since(), err)
	}
	if err := c.Readyz(ctx); err == nil {
		t.Errorf("t=%s: /readyz answers 200 again during the drain", since())
	}
	t.Logf("t=%s: still draining: /healthz 200, /readyz 500", since())
	for id, pod := range pods {
		for _, ifname := range []string{"eth0", "net1"} {
			if a := addrs(t, pod, ifname); a != nil {
				t.Errorf("pod %s: %s still present after its DEL: %v", id, ifname, a)
			}
		}
	}
	for _, n := range []string{"mtnet", "second"} {
		if r := e.reserved(n); len(r) != 0 {
			t.Errorf("network %s still reserves %v after the DELs", n, r)
		}
	}

	select {
	case <-e.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not exit after drain and grace")
	}
	code := e.daemon.ProcessState.ExitCode()
	e.daemon = nil
	t.Logf("t=%s: daemon exited with code %d", since(), code)
	if code != 0 {
		t.Errorf("exit code %d", code)
	}
	if _, err := os.Stat(api.SocketPath(e.sockDir)); err == nil {
		t.Error("socket left behind")
	}
	log, _ := os.ReadFile(e.logFile)
	for _, want := range []string{"/readyz now fails", "drain period over", "server stopped"} {
		if !bytes.Contains(log, []byte(want)) {
			t.Errorf("daemon log lacks %q", want)
		}
	}
}

// oldShimDel runs mt-oldshim's DEL as a runtime would.
func (e *procEnv) oldShimDel(bin, logPath, id string, pod ns.NetNS, stdin []byte) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{"CNI_COMMAND=DEL", "CNI_PATH=" + e.plugins, "CNI_CONTAINERID=" + id, "CNI_NETNS=" + pod.Path(),
		"CNI_IFNAME=eth0", "MT_OLDSHIM_LOG=" + logPath,
		"CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p-" + id + ";K8S_POD_INFRA_CONTAINER_ID=" + id}
	cmd.Stdin = bytes.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("mt-oldshim DEL: %v: %s", err, out)
	}
}

// A second SIGTERM cuts an hour-long drain short: exit 0, no crash.
func TestDaemonProcessSecondSignalShortensDrain(t *testing.T) {
	e := newProcEnv(t, map[string]any{"shutdownDrainPeriod": "1h", "shutdownGracePeriod": "2s"})
	e.start()
	c := client.New(api.SocketPath(e.sockDir))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := e.daemon.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for c.Readyz(ctx) == nil {
		if ctx.Err() != nil {
			t.Fatal("/readyz never failed after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.Healthz(ctx); err != nil {
		t.Fatalf("/healthz during the drain: %v", err)
	}
	code := e.stop(syscall.SIGTERM) // fails the test unless it exits within 20 s
	t.Logf("exit code %d, %s after the first SIGTERM", code, time.Since(t0).Round(time.Millisecond))
	if code != 0 {
		t.Errorf("exit code %d after the second SIGTERM", code)
	}
	if log, _ := os.ReadFile(e.logFile); !bytes.Contains(log, []byte("drain period cut short")) {
		t.Error("daemon log lacks the cut-short drain")
	}
	if _, err := os.Stat(api.SocketPath(e.sockDir)); err == nil {
		t.Error("socket left behind")
	}
}

// SIGTERM while the daemon still waits for its readiness indicator (start-
// up not finished): it exits at once despite an hour-long drain, and its
// socket is gone.
func TestDaemonProcessSignalDuringStartup(t *testing.T) {
	e := newProcEnv(t, map[string]any{"shutdownDrainPeriod": "1h", "readinessIndicatorTimeout": "1h"})
	e.writeConfigKey("readinessindicatorfile", filepath.Join(e.root, "flannel", "subnet.env"))
	stderr := e.launch()
	c := client.New(api.SocketPath(e.sockDir))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for c.Healthz(ctx) != nil {
		if ctx.Err() != nil {
			t.Fatalf("daemon never served: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.Readyz(ctx); err == nil {
		t.Fatal("/readyz answers 200 without the readiness indicator file")
	}
	code := e.stop(syscall.SIGTERM)
	if code != 0 {
		t.Errorf("exit code %d", code)
	}
	if _, err := os.Stat(api.SocketPath(e.sockDir)); err == nil {
		t.Error("socket left behind")
	}
	if log, _ := os.ReadFile(e.logFile); bytes.Contains(log, []byte("still serving")) {
		t.Error("drained although start-up had not finished")
	}
}

// writeConfigKey sets one key of daemon-config.json (before launch).
func (e *procEnv) writeConfigKey(key string, value any) {
	e.t.Helper()
	data, err := os.ReadFile(e.config)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := map[string]any{}
	if err := json.Unmarshal(data, &cfg); err != nil {
		e.t.Fatal(err)
	}
	cfg[key] = value
	data, _ = json.Marshal(cfg)
	if err := os.WriteFile(e.config, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// Auto mode with readinessindicatorfile: the daemon serves but is not
// ready until the file exists; an ADD sent meanwhile waits and then gets
// every interface; when the file goes (the primary network restarting)
// /readyz fails again, new work waits (bounded, the file named), the
// daemon keeps running and 00-multus.conf stays, and DEL never waits.
func TestDaemonProcessReadinessIndicator(t *testing.T) {
	e := newProcEnv(t, map[string]any{"readinessIndicatorTimeout": "2s", "shimReadinessTimeout": "30s"})
	ready := filepath.Join(e.root, "flannel", "subnet.env")
	e.writeConfigKey("readinessindicatorfile", ready)
	stderr := e.launch()
	c := client.New(api.SocketPath(e.sockDir))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for c.Healthz(ctx) != nil {
		if ctx.Err() != nil {
			t.Fatalf("daemon never served: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.Readyz(ctx); err == nil {
		t.Fatal("/readyz answers 200 before the readiness file exists")
	}
	// The conf from an earlier boot (kept across restarts on purpose).
	conf := []byte(`{"cniVersion":"1.1.0","name":"multus-cni-network","type":"multus-shim","daemonSocketDir":"` + e.sockDir +
		`","clusterNetwork":"` + filepath.Join(e.autoDir, "10-mtnet.conflist") + `","shimReadinessTimeout":"30s"}`)
	pod := testutil.NewNetns(t)
	const id = "c0ffee0r01"
	added := make(chan error, 1)
	go func() { _, err := e.shim("ADD", id, pod, "p-r01", conf); added <- err }()
	time.Sleep(500 * time.Millisecond) // the shim polls /readyz meanwhile
	select {
	case err := <-added:
		t.Fatalf("ADD returned before the primary network was ready: %v", err)
	default:
	}
	if a := addrs(t, pod, "eth0"); a != nil {
		t.Fatalf("eth0 attached before the readiness file existed: %v", a)
	}
	if err := os.MkdirAll(filepath.Dir(ready), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ready, []byte("FLANNEL_MTU=1450\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-added; err != nil {
		t.Fatalf("ADD once the file exists: %v", err)
	}
	if a := addrs(t, pod, "eth0"); !inSubnet(t, a, "10.99.0.0/24") {
		t.Errorf("eth0 addresses %v", a)
	}
	if a := addrs(t, pod, "net1"); !inSubnet(t, a, "10.98.0.0/24") {
		t.Errorf("net1 addresses %v", a)
	}

	// Start-up finished (it saw the file too), then the primary network
	// restarts: the file goes.
	testutil.Eventually(t, "start-up to finish", 60*time.Second, func() bool {
		b, _ := os.ReadFile(e.logFile)
		return bytes.Contains(b, []byte("msg=ready"))
	})
	if err := os.Remove(ready); err != nil {
		t.Fatal(err)
	}
	if err := c.Readyz(ctx); err == nil {
		t.Error("/readyz answers 200 after the readiness file was removed")
	}
	_, err := c.CNI(ctx, &api.Request{Env: map[string]string{"CNI_COMMAND": "STATUS"}, Config: conf})
	if err == nil || !strings.Contains(err.Error(), ready) || !strings.Contains(err.Error(), "default network is ready") {
		t.Errorf("STATUS without the file = %v, want a bounded wait naming %s", err, ready)
	}
	if _, err := e.shim("DEL", id, pod, "p-r01", conf); err != nil {
		t.Fatalf("DEL without the readiness file: %v", err)
	}
	if a := addrs(t, pod, "eth0"); a != nil {
		t.Errorf("eth0 still present after DEL: %v", a)
	}
	for _, n := range []string{"mtnet", "second"} {
		if r := e.reserved(n); len(r) != 0 {
			t.Errorf("network %s still reserves %v after DEL", n, r)
		}
	}
	select {
	case err := <-e.exited:
		e.daemon = nil
		log, _ := os.ReadFile(e.logFile)
		t.Fatalf("daemon exited when the readiness file went: %v\n%s", err, log)
	default:
	}
	if _, err := os.Stat(e.confPath); err != nil {
		t.Errorf("00-multus.conf gone with the readiness file: %v", err)
	}
	if code := e.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d", code)
	}
}
