package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cnitypes "github.com/containernetworking/cni/pkg/types"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/client"
	"github.com/multus-thick/multus-thick/src/internal/server"
	"github.com/multus-thick/multus-thick/src/internal/testutil"
)

// waitBound is the safety net of every wait for the in-process daemon
// (its first config write, its socket, its logs), not a timing assertion.
const waitBound = 10 * time.Second

// stubBackend answers STATUS with a scripted error and records the
// attach.Options the daemon built.
type stubBackend struct {
	server.CNI // unimplemented methods panic: the tests call only Status
	opts       attach.Options
	statusErr  error
}

func (s *stubBackend) Status(context.Context, *attach.Request) error { return s.statusErr }

type layout struct {
	root, sock, auto, conf, config string
}

func newLayout(t *testing.T) *layout {
	t.Helper()
	root, err := os.MkdirTemp("", "mt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	l := &layout{root: root, sock: filepath.Join(root, "s"), auto: filepath.Join(root, "auto"),
		conf: filepath.Join(root, "netd"), config: filepath.Join(root, "daemon-config.json")}
	for _, d := range []string{l.auto, l.conf} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// daemonConfig writes daemon-config.json: an auto-mode config on this
// layout, with extra keys merged in.
func (l *layout) daemonConfig(t *testing.T, extra map[string]any) {
	t.Helper()
	c := map[string]any{
		"cniVersion": "0.4.0", "socketDir": l.sock, "multusAutoconfigDir": l.auto, "cniConfigDir": l.conf,
		"logLevel": "debug", "logToStderr": true, "shutdownGracePeriod": "2s",
		"shutdownDrainPeriod": "0s", "readinessIndicatorTimeout": "200ms",
	}
	for k, v := range extra {
		c[k] = v
	}
	data, _ := json.Marshal(c)
	if err := os.WriteFile(l.config, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (l *layout) primary(t *testing.T) string {
	t.Helper()
	p := filepath.Join(l.auto, "10-bridge.conflist")
	conf := `{"cniVersion":"0.4.0","name":"cbr0","plugins":[{"type":"bridge"},{"type":"portmap","capabilities":{"portMappings":true}}]}`
	if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func testEnv(l *layout, stderr *testutil.SyncBuffer, backend *stubBackend) Env {
	return Env{
		Args:   []string{"-config", l.config},
		Stderr: stderr,
		Getenv: func(k string) string {
			if k == "CNI_PATH" {
				return "/a:/b::"
			}
			return ""
		},
		IsRoot: func() bool { return true },
		NewBackend: func(o attach.Options) (server.CNI, error) {
			backend.opts = o
			return backend, nil
		},
		ReadinessInterval: 10 * time.Millisecond,
		PrimaryTimeout:    200 * time.Millisecond,
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestStartupFailuresExitCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    func(l *layout) []string
		config  map[string]any // nil: no file written
		prepare func(t *testing.T, l *layout)
		env     func(e *Env)
		want    int
		wantErr string
		wantOut string
	}{
		{name: "version", args: func(*layout) []string { return []string{"-version"} }, want: 0, wantOut: "multus-daemon: version:"},
		{name: "help", args: func(*layout) []string { return []string{"-h"} }, want: 0, wantErr: "-config"},
		{name: "thin-only flag", args: func(*layout) []string { return []string{"-restart-crio"} }, want: 1, wantErr: "-restart-crio"},
		{name: "unknown flag", args: func(*layout) []string { return []string{"-nope"} }, want: 1, wantErr: "nope"},
		{name: "config missing", want: 1, wantErr: "daemon-config.json"},
		{name: "config invalid", config: map[string]any{"connectionLimit": 0}, want: 1,
			wantErr: `"connectionLimit": must be > 0, got 0`},
		{name: "flag value invalid", args: func(l *layout) []string { return []string{"-config", l.config, "-metricsPort", "70000"} },
			config: map[string]any{}, want: 1, wantErr: `"metricsPort"`},
		// Upstream-tolerated values: the daemon carries on to the next
		// startup step (here: no primary config, exit 2) after a warning on
		// stderr, since the level falls back to panic, which logs no warnings.
		{name: "unknown log level carries on", config: map[string]any{"logLevel": "info"}, want: 2,
			wantErr: `multus-daemon: warning: `},
		{name: "missing kubeconfig carries on", config: map[string]any{"kubeconfig": "/nonexistent/multus.kubeconfig"}, want: 2,
			wantErr: `/nonexistent/multus.kubeconfig does not exist; using in-cluster credentials`},
		{name: "not root", config: map[string]any{}, env: func(e *Env) { e.IsRoot = func() bool { return false } },
			want: 3, wantErr: "root"},
		{name: "socket dir is a file", config: map[string]any{}, want: 3, wantErr: "is not a directory",
			prepare: func(t *testing.T, l *layout) {
				if err := os.WriteFile(l.sock, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "backend fails", config: map[string]any{}, want: 3, wantErr: "attach: boom",
			env: func(e *Env) {
				e.NewBackend = func(attach.Options) (server.CNI, error) { return nil, errors.New("boom") }
			}},
		{name: "readiness file never appears", config: map[string]any{"readinessindicatorfile": "/nonexistent/ready"},
			want: 1, wantErr: "/nonexistent/ready"},
		{name: "no primary config", config: map[string]any{}, want: 2, wantErr: "no primary CNI config"},
		{name: "incompatible primary", config: map[string]any{"cniVersion": "1.0.0"}, want: 2, wantErr: "incompatible",
			prepare: func(t *testing.T, l *layout) {
				if err := os.WriteFile(filepath.Join(l.auto, "10-x.conf"), []byte(`{"cniVersion":"0.3.1","name":"x","type":"bridge"}`), 0o644); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLayout(t)
			if tc.config != nil {
				l.daemonConfig(t, tc.config)
			}
			if tc.prepare != nil {
				tc.prepare(t, l)
			}
			var stderr, stdout testutil.SyncBuffer
			env := testEnv(l, &stderr, &stubBackend{})
			env.Stdout = &stdout
			if tc.args != nil {
				env.Args = tc.args(l)
			}
			if tc.env != nil {
				tc.env(&env)
			}
			if got := Run(context.Background(), env); got != tc.want {
				t.Errorf("exit code %d, want %d; stderr:\n%s", got, tc.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr does not contain %q:\n%s", tc.wantErr, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.wantOut) {
				t.Errorf("stdout does not contain %q:\n%s", tc.wantOut, stdout.String())
			}
		})
	}
}

// runDaemon starts Run in a goroutine; stop cancels it and returns the code.
func runDaemon(t *testing.T, env Env) (stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() { code <- Run(ctx, env) }()
	var once sync.Once
	var got int
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case got = <-code:
			case <-time.After(15 * time.Second):
				t.Fatal("daemon did not stop")
			}
		})
		return got
	}
	t.Cleanup(func() { stop() })
	return stop
}

func TestRunAutoModeServesAndKeepsConfOnExit(t *testing.T) {
	t.Parallel()
	l := newLayout(t)
	l.daemonConfig(t, map[string]any{"binDir": "/host/opt/cni/bin", "delegateTimeout": "7s",
		"maxConcurrentDelegates": 3, "shimTimeout": "30s", "someUpstreamKey": 1})
	primary := l.primary(t)
	var stderr testutil.SyncBuffer
	backend := &stubBackend{statusErr: fmt.Errorf("delegate: %w", &cnitypes.Error{Code: 50, Msg: "plugin not available"})}
	stop := runDaemon(t, testEnv(l, &stderr, backend))

	confFile := filepath.Join(l.conf, "00-multus.conf")
	testutil.Eventually(t, "00-multus.conf", waitBound, func() bool { return exists(confFile) })
	var conf map[string]any
	data, _ := os.ReadFile(confFile)
	if err := json.Unmarshal(data, &conf); err != nil {
		t.Fatal(err)
	}
	if conf["clusterNetwork"] != primary || conf["daemonSocketDir"] != l.sock || conf["binDir"] != "/host/opt/cni/bin" ||
		conf["shimTimeout"] != "30s" || conf["type"] != "multus-shim" || conf["name"] != "multus-cni-network" ||
		conf["someUpstreamKey"] != nil || conf["multusAutoconfigDir"] != nil {
		t.Errorf("00-multus.conf = %s", data)
	}

	// The attacher got the daemon's settings.
	o := backend.opts
	if o.DelegateTimeout != 7*time.Second || o.MaxConcurrentDelegates != 3 || o.BinDir != "/host/opt/cni/bin" ||
		o.Resolver == nil || o.Observer == nil || o.Pods != nil || strings.Join(o.CNIPath, ":") != "/a:/b" {
		t.Errorf("attach options = %+v", o)
	}

	// Through the shim's own client: ready, and a delegate's CNI error
	// code reaches the caller.
	c := client.New(api.SocketPath(l.sock))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	_, err := c.CNI(ctx, &api.Request{Env: map[string]string{"CNI_COMMAND": "STATUS"}, Config: data})
	var ce *cnitypes.Error
	if !errors.As(err, &ce) || ce.Code != 50 || !strings.Contains(ce.Msg, "plugin not available") {
		t.Fatalf("STATUS error = %v", err)
	}
	if !strings.Contains(stderr.String(), "running without Kubernetes") {
		t.Error("no warning about running without Kubernetes")
	}

	if code := stop(); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr.String())
	}
	if !exists(confFile) {
		t.Error("00-multus.conf deleted on exit (upstream #1527); it must stay")
	}
	if exists(api.SocketPath(l.sock)) {
		t.Error("socket left behind")
	}
}

func TestRunDeleteConfOnExit(t *testing.T) {
	t.Parallel()
	l := newLayout(t)
	l.daemonConfig(t, map[string]any{"deleteConfOnExit": true})
	l.primary(t)
	var stderr testutil.SyncBuffer
	stop := runDaemon(t, testEnv(l, &stderr, &stubBackend{}))
	confFile := filepath.Join(l.conf, "00-multus.conf")
	testutil.Eventually(t, "00-multus.conf", waitBound, func() bool { return exists(confFile) })
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if exists(confFile) {
		t.Error("00-multus.conf kept despite deleteConfOnExit")
	}
}

// Upstream exits 2 and deletes 00-multus.conf when the readiness file goes
// (flannel restarting); we keep running and the conf, and gate instead:
// /readyz fails and new STATUS/ADD/GC wait (bounded) until it is back.
func TestRunReadinessRemovedGatesInsteadOfExiting(t *testing.T) {
	t.Parallel()
	l := newLayout(t)
	ready := filepath.Join(l.root, "ready")
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l.daemonConfig(t, map[string]any{"readinessindicatorfile": ready})
	l.primary(t)
	var stderr testutil.SyncBuffer
	backend := &stubBackend{}
	stop := runDaemon(t, testEnv(l, &stderr, backend))
	confFile := filepath.Join(l.conf, "00-multus.conf")
	testutil.Eventually(t, "00-multus.conf", waitBound, func() bool { return exists(confFile) })
	c := client.New(api.SocketPath(l.sock))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	status := func() error {
		_, err := c.CNI(ctx, &api.Request{Env: map[string]string{"CNI_COMMAND": "STATUS"}, Config: []byte(`{"cniVersion":"0.4.0"}`)})
		return err
	}
	if err := os.Remove(ready); err != nil {
		t.Fatal(err)
	}
	if err := c.Readyz(ctx); err == nil {
		t.Error("/readyz answers 200 without the readiness file")
	}
	err := status()
	var ce *cnitypes.Error
	if !errors.As(err, &ce) || ce.Code != cnitypes.ErrTryAgainLater || !strings.Contains(ce.Msg, ready) {
		t.Errorf("STATUS without the file = %v, want try-again-later naming %s", err, ready)
	}
	if !exists(confFile) {
		t.Error("00-multus.conf removed with the readiness file")
	}
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx, 20*time.Millisecond); err != nil {
		t.Fatalf("not ready again after the file came back: %v", err)
	}
	if err := status(); err != nil {
		t.Errorf("STATUS after the file came back: %v", err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d, want 0 (the daemon kept running); stderr:\n%s", code, stderr.String())
	}
}

// Non-auto mode: the same gate from the daemon-config key, and /readyz
// fails until the file exists.
func TestRunNonAutoReadinessGate(t *testing.T) {
	t.Parallel()
	l := newLayout(t)
	user := filepath.Join(l.root, "70-multus.conf")
	if err := os.WriteFile(user, []byte(`{"cniVersion":"0.4.0","name":"m","type":"multus-shim","delegates":[{"type":"bridge"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(l.root, "flannel", "subnet.env")
	l.daemonConfig(t, map[string]any{"multusConfigFile": user, "readinessindicatorfile": ready, "readinessIndicatorTimeout": "1h"})
	var stderr testutil.SyncBuffer
	stop := runDaemon(t, testEnv(l, &stderr, &stubBackend{}))
	c := client.New(api.SocketPath(l.sock))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	testutil.Eventually(t, "/healthz", waitBound, func() bool { return c.Healthz(ctx) == nil })
	if err := c.Readyz(ctx); err == nil {
		t.Fatal("/readyz answers 200 before the readiness file exists")
	}
	if err := os.MkdirAll(filepath.Dir(ready), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx, 20*time.Millisecond); err != nil {
		t.Fatalf("not ready with the file present: %v", err)
	}
	testutil.Eventually(t, "installed config", waitBound, func() bool { return exists(filepath.Join(l.conf, "70-multus.conf")) })
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestRunNonAutoKeepsRunning(t *testing.T) {
	t.Parallel()
	l := newLayout(t)
	user := filepath.Join(l.root, "70-multus.conf")
	if err := os.WriteFile(user, []byte(`{"cniVersion":"0.4.0","name":"m","type":"multus-shim","delegates":[{"type":"bridge"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	l.daemonConfig(t, map[string]any{"multusConfigFile": user})
	var stderr testutil.SyncBuffer
	stop := runDaemon(t, testEnv(l, &stderr, &stubBackend{}))
	installed := filepath.Join(l.conf, "70-multus.conf")
	testutil.Eventually(t, "installed config", waitBound, func() bool { return exists(installed) })
	c := client.New(api.SocketPath(l.sock))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// Still serving a while later (upstream exits right after startup, #1366).
	time.Sleep(100 * time.Millisecond)
	if err := c.Healthz(ctx); err != nil {
		t.Fatalf("daemon stopped serving in non-auto mode: %v", err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestSplitPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
	}{{"", ""}, {"/a", "/a"}, {"/a::/b: ", "/a,/b"}}
	for _, tc := range tests {
		if got := strings.Join(splitPath(tc.in), ","); got != tc.want {
			t.Errorf("splitPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
