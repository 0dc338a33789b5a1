//go:build netns

package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/client"
	"github.com/multus-thick/multus-thick/src/internal/testutil"
)

// This tier runs the REAL multus-daemon process (MT_BIN) with the reference
// plugins (MT_PLUGINS) and calls the REAL multus-shim binary the way a
// container runtime does: CNI_* environment, the config on stdin. The
// daemon runs inside a throwaway "node" network namespace, so the bridges
// it creates never touch the real host; each pod is another namespace.

type procEnv struct {
	t        *testing.T
	bin      string
	plugins  string
	root     string
	sockDir  string
	autoDir  string
	confDir  string
	netDir   string // Multus' own confDir (second network)
	ipamDir  string
	config   string
	node     ns.NetNS
	daemon   *exec.Cmd
	exited   chan error
	logFile  string
	confPath string
}

func requireBins(t *testing.T) (bin, plugins string) {
	t.Helper()
	testutil.RequireRoot(t)
	bin = os.Getenv("MT_BIN")
	if bin == "" {
		t.Fatal("MT_BIN is not set: run through `make test-netns`, which builds bin/")
	}
	for _, p := range []string{filepath.Join(bin, "multus-daemon"), filepath.Join(bin, "multus-shim")} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("missing %s (run make build): %v", p, err)
		}
	}
	return bin, testutil.PluginDir(t, "bridge", "host-local")
}

func bridgeConflist(name, bridge, subnet, ipamDir string) string {
	return fmt.Sprintf(`{"cniVersion":"1.1.0","name":%q,"plugins":[{"type":"bridge","bridge":%q,"isGateway":true,`+
		`"ipam":{"type":"host-local","dataDir":%q,"ranges":[[{"subnet":%q}]]}}]}`, name, bridge, ipamDir, subnet)
}

// newProcEnv lays out a node; extra keys are merged into daemon-config.
func newProcEnv(t *testing.T, extra ...map[string]any) *procEnv {
	bin, plugins := requireBins(t)
	root, err := os.MkdirTemp("", "mt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	e := &procEnv{t: t, bin: bin, plugins: plugins, root: root,
		sockDir: filepath.Join(root, "run"), autoDir: filepath.Join(root, "netd"), confDir: filepath.Join(root, "netd"),
		netDir: filepath.Join(root, "multus.d"), ipamDir: filepath.Join(root, "ipam"),
		config: filepath.Join(root, "daemon-config.json"), logFile: filepath.Join(root, "daemon.log"),
		node: testutil.NewNetns(t)}
	e.confPath = filepath.Join(e.confDir, "00-multus.conf")
	for _, d := range []string{e.autoDir, e.netDir, e.ipamDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, data string) {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The primary, found by auto mode, and a second network by name.
	write(filepath.Join(e.autoDir, "10-mtnet.conflist"), bridgeConflist("mtnet", "mtbr0", "10.99.0.0/24", e.ipamDir))
	write(filepath.Join(e.netDir, "20-second.conflist"), bridgeConflist("second", "mtbr1", "10.98.0.0/24", e.ipamDir))
	cfg := map[string]any{
		"cniVersion": "1.1.0", "multusConfigFile": "auto", "multusAutoconfigDir": e.autoDir, "cniConfigDir": e.confDir,
		"socketDir": e.sockDir, "binDir": plugins, "cniDir": filepath.Join(root, "cache"), "confDir": e.netDir,
		"defaultNetworks": []string{"second"}, "logLevel": "debug", "logFile": e.logFile,
		"shutdownGracePeriod": "5s", "delegateTimeout": "30s", "shimReadinessTimeout": "20s",
		"shutdownDrainPeriod": "1s",
	}
	for _, m := range extra {
		for k, v := range m {
			cfg[k] = v
		}
	}
	data, _ := json.Marshal(cfg)
	write(e.config, string(data))
	t.Cleanup(func() {
		e.stop(syscall.SIGKILL)
		if t.Failed() {
			log, _ := os.ReadFile(e.logFile)
			t.Logf("daemon log:\n%s", log)
		}
	})
	return e
}

// start runs the daemon process inside the node namespace. A process
// forked from a thread inside ns.Do inherits that thread's namespace.
func (e *procEnv) start() {
	e.t.Helper()
	stderr := e.launch()
	c := client.New(api.SocketPath(e.sockDir))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx, 50*time.Millisecond); err != nil {
		e.t.Fatalf("daemon not ready: %v; stderr: %s", err, stderr.String())
	}
}

// conf waits for auto mode's 00-multus.conf and returns it: /readyz may
// answer before the file is written, and a test that read it at once
// would hand the shim an empty config.
func (e *procEnv) conf() []byte {
	e.t.Helper()
	var data []byte
	testutil.Eventually(e.t, "00-multus.conf", 10*time.Second, func() bool {
		var err error
		data, err = os.ReadFile(e.confPath)
		return err == nil
	})
	return data
}

// launch starts the daemon process without waiting for it.
func (e *procEnv) launch() *testutil.SyncBuffer {
	e.t.Helper()
	cmd := exec.Command(filepath.Join(e.bin, "multus-daemon"), "-config", e.config)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"} // no KUBERNETES_SERVICE_HOST: files only
	stderr := &testutil.SyncBuffer{}
	cmd.Stderr = stderr
	err := e.node.Do(func(ns.NetNS) error { return cmd.Start() })
	if err != nil {
		e.t.Fatal(err)
	}
	e.daemon, e.exited = cmd, make(chan error, 1)
	go func() { e.exited <- cmd.Wait() }()
	return stderr
}

// stop signals the daemon and returns its exit code (-1 if not running).
func (e *procEnv) stop(sig syscall.Signal) int {
	if e.daemon == nil {
		return -1
	}
	_ = e.daemon.Process.Signal(sig)
	var code int
	select {
	case <-e.exited:
		code = e.daemon.ProcessState.ExitCode()
	case <-time.After(20 * time.Second):
		_ = e.daemon.Process.Kill()
		<-e.exited
		e.t.Error("daemon did not exit within 20 s of the signal")
		code = -1
	}
	e.daemon = nil
	return code
}

// shim runs the real shim binary as a runtime would and returns stdout.
func (e *procEnv) shim(command, containerID string, pod ns.NetNS, podName string, stdin []byte) ([]byte, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(e.bin, "multus-shim"))
	cmd.Env = []string{"CNI_COMMAND=" + command, "CNI_PATH=" + e.plugins}
	if pod != nil {
		cmd.Env = append(cmd.Env, "CNI_CONTAINERID="+containerID, "CNI_NETNS="+pod.Path(), "CNI_IFNAME=eth0",
			"CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME="+podName+";K8S_POD_INFRA_CONTAINER_ID="+containerID)
	}
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("multus-shim %s: %w; stdout %s; stderr %s", command, err, stdout.String(), stderr.String())
	}
	return stdout.Bytes(), nil
}

// addrs returns the IPv4 addresses of ifname inside n (nil: no link).
func addrs(t *testing.T, n ns.NetNS, ifname string) []string {
	t.Helper()
	var out []string
	err := n.Do(func(ns.NetNS) error {
		l, err := netlinksafe.LinkByName(ifname)
		if err != nil {
			if _, ok := err.(netlink.LinkNotFoundError); ok {
				return nil
			}
			return err
		}
		as, err := netlinksafe.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		out = []string{}
		for _, a := range as {
			out = append(out, a.IPNet.String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func inSubnet(t *testing.T, cidrs []string, subnet string) bool {
	t.Helper()
	_, want, _ := net.ParseCIDR(subnet)
	for _, c := range cidrs {
		if ip, _, err := net.ParseCIDR(c); err == nil && want.Contains(ip) {
			return true
		}
	}
	return false
}

// reserved lists host-local's reservations of the network (IP files).
func (e *procEnv) reserved(network string) []string {
	entries, _ := os.ReadDir(filepath.Join(e.ipamDir, network))
	var out []string
	for _, en := range entries {
		if net.ParseIP(en.Name()) != nil {
			out = append(out, en.Name())
		}
	}
	return out
}

func TestDaemonProcessLifecycle(t *testing.T) {
	e := newProcEnv(t)
	e.start()
	conf := e.conf()
	pod := testutil.NewNetns(t)
	const id = "c0ffee0001"

	// ADD: both networks inside the pod namespace, result on stdout.
	out, err := e.shim("ADD", id, pod, "p1", conf)
	if err != nil {
		t.Fatal(err)
	}
	var result struct {
		CNIVersion string `json:"cniVersion"`
		IPs        []struct {
			Address string `json:"address"`
		} `json:"ips"`
	}
	if err := json.Unmarshal(out, &result); err != nil || result.CNIVersion != "1.1.0" || len(result.IPs) == 0 {
		t.Fatalf("ADD result %s: %v", out, err)
	}
	if a := addrs(t, pod, "eth0"); !inSubnet(t, a, "10.99.0.0/24") {
		t.Errorf("eth0 addresses %v, want one in 10.99.0.0/24", a)
	}
	if a := addrs(t, pod, "net1"); !inSubnet(t, a, "10.98.0.0/24") {
		t.Errorf("net1 addresses %v, want one in 10.98.0.0/24", a)
	}
	if a := addrs(t, e.node, "mtbr0"); a == nil {
		t.Error("bridge mtbr0 not in the node namespace")
	}

	// CHECK and STATUS succeed against the live attachment.
	if _, err := e.shim("CHECK", id, pod, "p1", conf); err != nil {
		t.Errorf("CHECK: %v", err)
	}
	if _, err := e.shim("STATUS", "", nil, "", conf); err != nil {
		t.Errorf("STATUS: %v", err)
	}

	// Restart between ADD and DEL: SIGTERM, exit 0, 00-multus.conf kept.
	if code := e.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("daemon exit code after SIGTERM = %d", code)
	}
	if _, err := os.Stat(e.confPath); err != nil {
		t.Fatalf("00-multus.conf removed at shutdown (#1527): %v", err)
	}
	e.start()

	// DEL (after the restart, from the cache): links gone, IPs released.
	if _, err := e.shim("DEL", id, pod, "p1", conf); err != nil {
		t.Fatal(err)
	}
	if a := addrs(t, pod, "eth0"); a != nil {
		t.Errorf("eth0 still present after DEL: %v", a)
	}
	if a := addrs(t, pod, "net1"); a != nil {
		t.Errorf("net1 still present after DEL: %v", a)
	}
	for _, n := range []string{"mtnet", "second"} {
		if r := e.reserved(n); len(r) != 0 {
			t.Errorf("network %s still reserves %v after DEL", n, r)
		}
	}
	// DEL again: idempotent.
	if _, err := e.shim("DEL", id, pod, "p1", conf); err != nil {
		t.Errorf("second DEL: %v", err)
	}

	// GC: a second pod's attachment is not in the valid list, so its IP
	// reservation on the cluster network goes.
	pod2 := testutil.NewNetns(t)
	const id2 = "c0ffee0002"
	if _, err := e.shim("ADD", id2, pod2, "p2", conf); err != nil {
		t.Fatal(err)
	}
	if r := e.reserved("mtnet"); len(r) != 1 {
		t.Fatalf("reservations before GC = %v", r)
	}
	var gcConf map[string]any
	_ = json.Unmarshal(conf, &gcConf)
	gcConf["cni.dev/valid-attachments"] = []any{}
	gcBytes, _ := json.Marshal(gcConf)
	if _, err := e.shim("GC", "", nil, "", gcBytes); err != nil {
		t.Fatalf("GC: %v", err)
	}
	if r := e.reserved("mtnet"); len(r) != 0 {
		t.Errorf("reservations after GC with no valid attachment = %v", r)
	}
	if code := e.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("final exit code %d", code)
	}
}

func TestDaemonProcessBadInputNeverCrashes(t *testing.T) {
	e := newProcEnv(t)
	e.start()
	conf := e.conf()
	pod := testutil.NewNetns(t)
	tests := []struct {
		name  string
		stdin []byte
		args  string
	}{
		{"args value with =", conf, "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p;X=a=b"},
		{"config not JSON", []byte("{nope"), "K8S_POD_NAMESPACE=default;K8S_POD_NAME=p"},
		{"no pod name", conf, "K8S_POD_NAMESPACE=default"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(filepath.Join(e.bin, "multus-shim"))
			cmd.Env = []string{"CNI_COMMAND=CHECK", "CNI_CONTAINERID=bad1", "CNI_NETNS=" + pod.Path(), "CNI_IFNAME=eth0", "CNI_ARGS=" + tc.args}
			cmd.Stdin = bytes.NewReader(tc.stdin)
			_ = cmd.Run() // an error is fine; the daemon must survive
		})
	}
	c := client.New(api.SocketPath(e.sockDir))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Healthz(ctx); err != nil {
		t.Fatalf("daemon died on bad input: %v", err)
	}
	select {
	case err := <-e.exited:
		t.Fatalf("daemon exited: %v", err)
	default:
	}
	if !strings.Contains(func() string { b, _ := os.ReadFile(e.logFile); return string(b) }(), "command failed") &&
		!strings.Contains(func() string { b, _ := os.ReadFile(e.logFile); return string(b) }(), "bad request") {
		t.Error("no failure logged for bad input")
	}
}

// An ADD that arrives while the daemon restarts waits in the shim for the
// next daemon instead of failing or falling back to the primary network:
// 00-multus.conf stays, so the runtime keeps calling the shim (#1527).
func TestDaemonProcessAddDuringRestart(t *testing.T) {
	e := newProcEnv(t)
	e.start()
	conf := e.conf()
	if code := e.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if _, err := os.Stat(e.confPath); err != nil {
		t.Fatalf("00-multus.conf removed at shutdown: %v", err)
	}
	pod := testutil.NewNetns(t)
	const id = "c0ffee0003"
	type res struct {
		out []byte
		err error
	}
	done := make(chan res, 1)
	go func() {
		out, err := e.shim("ADD", id, pod, "p3", conf)
		done <- res{out, err}
	}()
	// The shim is polling /readyz on a socket with no daemon behind it.
	select {
	case r := <-done:
		t.Fatalf("ADD returned with no daemon running: %s %v", r.out, r.err)
	case <-time.After(500 * time.Millisecond):
	}
	e.start()
	r := <-done
	if r.err != nil {
		t.Fatalf("ADD across the restart: %v", r.err)
	}
	if a := addrs(t, pod, "eth0"); !inSubnet(t, a, "10.99.0.0/24") {
		t.Errorf("eth0 addresses %v", a)
	}
	if a := addrs(t, pod, "net1"); !inSubnet(t, a, "10.98.0.0/24") {
		t.Errorf("net1 addresses %v (the secondary network must not be lost)", a)
	}
	if _, err := e.shim("DEL", id, pod, "p3", conf); err != nil {
		t.Fatal(err)
	}
}
