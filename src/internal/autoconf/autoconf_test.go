package autoconf

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multus-thick/multus-thick/src/internal/testutil"
)

const (
	bridgeList = `{"cniVersion":"0.4.0","name":"cbr0","plugins":[{"type":"bridge","capabilities":{"ips":true}},{"type":"portmap","capabilities":{"portMappings":true,"off":false}}]}`
	ptpConf    = `{"cniVersion":"1.0.0","name":"ptpnet","type":"ptp","capabilities":{"bandwidth":true}}`
	oldConf    = `{"cniVersion":"0.3.1","name":"old","type":"bridge"}`
)

func spec() Spec {
	return Spec{
		CNIVersion: "0.4.0", Type: "multus-shim", Name: "multus-cni-network",
		Capabilities: map[string]bool{"mac": true},
		Extra:        map[string]json.RawMessage{"daemonSocketDir": json.RawMessage(`"/run/multus/"`), "logLevel": json.RawMessage(`"debug"`)},
	}
}

func decode(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%q: %v", data, err)
	}
	return m
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		spec    func(*Spec)
		primary string
		wantErr string
		check   func(t *testing.T, m map[string]any)
	}{
		{name: "conflist capabilities merged", primary: bridgeList, check: func(t *testing.T, m map[string]any) {
			caps := m["capabilities"].(map[string]any)
			if caps["ips"] != true || caps["portMappings"] != true || caps["mac"] != true || caps["off"] != nil {
				t.Errorf("capabilities = %v", caps)
			}
			if m["name"] != "multus-cni-network" || m["type"] != "multus-shim" || m["cniVersion"] != "0.4.0" ||
				m["clusterNetwork"] != "/etc/cni/net.d/10-primary.conflist" || m["daemonSocketDir"] != "/run/multus/" ||
				m["logLevel"] != "debug" {
				t.Errorf("conf = %v", m)
			}
		}},
		{name: "single conf", primary: ptpConf, check: func(t *testing.T, m map[string]any) {
			if caps := m["capabilities"].(map[string]any); caps["bandwidth"] != true {
				t.Errorf("capabilities = %v", caps)
			}
		}},
		{name: "override network name", primary: ptpConf, spec: func(s *Spec) { s.OverrideNetworkName = true },
			check: func(t *testing.T, m map[string]any) {
				if m["name"] != "ptpnet" {
					t.Errorf("name = %v", m["name"])
				}
			}},
		{name: "old primary under new multus", primary: oldConf, wantErr: "cniVersion 0.3.1"},
		{name: "old primary under old multus", primary: oldConf, spec: func(s *Spec) { s.CNIVersion = "0.3.1" }},
		{name: "primary without version", primary: `{"name":"x","type":"bridge"}`, wantErr: "incompatible"},
		{name: "bad multus version", primary: ptpConf, spec: func(s *Spec) { s.CNIVersion = "banana" }, wantErr: "banana"},
		{name: "non-bool capability is an error", primary: `{"cniVersion":"1.0.0","name":"x","type":"t","capabilities":{"portMappings":"yes"}}`,
			wantErr: `capability "portMappings"`},
		{name: "non-bool plugin capability", primary: `{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"t","capabilities":{"ips":1}}]}`,
			wantErr: `capability "ips"`},
		{name: "empty file (mid-write)", primary: ``, wantErr: "10-primary"},
		{name: "truncated", primary: `{"cniVersion":"1.0.0","na`, wantErr: "10-primary"},
		{name: "not a CNI config", primary: `{"cniVersion":"1.0.0"}`, wantErr: `no "type"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := spec()
			if tc.spec != nil {
				tc.spec(&s)
			}
			out, err := Generate(s, "/etc/cni/net.d/10-primary.conflist", []byte(tc.primary))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, decode(t, out))
			}
		})
	}
}

type env struct {
	auto, conf string
	m          *Manager
}

func newEnv(t *testing.T, mutate func(*Options)) *env {
	t.Helper()
	root := t.TempDir()
	e := &env{auto: filepath.Join(root, "auto"), conf: filepath.Join(root, "net.d")}
	for _, d := range []string{e.auto, e.conf} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := Options{
		AutoconfigDir: e.auto, ConfDir: e.conf, Spec: spec(),
		FindTimeout: 2 * time.Second, FindInterval: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mutate != nil {
		mutate(&opts)
	}
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	return e
}

func (e *env) write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(e.auto, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) conf00(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(e.m.ConfPath())
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, data)
}

func TestFindPrimary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   []string
		master  string
		want    string
		wantErr bool
	}{
		{name: "first by name", files: []string{"20-b.conf", "10-a.conflist"}, want: "10-a.conflist"},
		{name: "skips ours, json, hidden, others", files: []string{"00-multus.conf", "00-multus.conflist", "05-x.json", ".05-tmp.conf", "README", "30-z.conf"}, want: "30-z.conf"},
		{name: "master wins", files: []string{"10-a.conf", "20-b.conf"}, master: "20-b.conf", want: "20-b.conf"},
		{name: "master missing", files: []string{"10-a.conf"}, master: "99-missing.conf", wantErr: true},
		{name: "none", files: []string{"00-multus.conf", "x.json"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(o *Options) { o.MasterCNI = tc.master })
			for _, f := range tc.files {
				e.write(t, f, ptpConf)
			}
			got, err := e.m.findPrimary()
			if tc.wantErr {
				if !errors.Is(err, ErrNoPrimary) {
					t.Fatalf("err = %v, want ErrNoPrimary", err)
				}
				return
			}
			if err != nil || got != filepath.Join(e.auto, tc.want) {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

func TestStartWritesAtomicallyWithMode0600(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	p := e.write(t, "10-bridge.conflist", bridgeList)
	if err := e.m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(e.m.ConfPath())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	if got := e.conf00(t)["clusterNetwork"]; got != p {
		t.Errorf("clusterNetwork = %v", got)
	}
	entries, _ := os.ReadDir(e.conf)
	if len(entries) != 1 {
		t.Errorf("conf dir holds %d entries (temp files left?)", len(entries))
	}
}

func TestStartWaitsForPrimary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	done := make(chan error, 1)
	go func() { done <- e.m.Start(context.Background()) }()
	time.Sleep(50 * time.Millisecond) // let Start poll an empty dir at least once
	e.write(t, "10-ptp.conf", ptpConf)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if e.conf00(t)["clusterNetwork"] != filepath.Join(e.auto, "10-ptp.conf") {
		t.Error("wrong primary")
	}
}

func TestStartFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   map[string]string
		wantErr error
	}{
		{"no primary before the timeout", nil, ErrNoPrimary},
		{"incompatible fails fast", map[string]string{"10-old.conf": oldConf}, ErrIncompatible},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(o *Options) { o.FindTimeout = 200 * time.Millisecond })
			for n, c := range tc.files {
				e.write(t, n, c)
			}
			if err := e.m.Start(context.Background()); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if _, err := os.Stat(e.m.ConfPath()); !os.IsNotExist(err) {
				t.Errorf("conf written on failure: %v", err)
			}
		})
	}
}

func TestReconcileKeepsLastGoodFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.write(t, "10-ptp.conf", ptpConf)
	if err := e.m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(e.m.ConfPath())
	for name, content := range map[string]string{"empty": "", "partial": `{"cniVersion":"1.0`} {
		e.write(t, "10-ptp.conf", content)
		if err := e.m.Reconcile(); err == nil {
			t.Errorf("%s primary: no error", name)
		}
		if now, _ := os.ReadFile(e.m.ConfPath()); string(now) != string(good) {
			t.Errorf("%s primary replaced the good file with %q", name, now)
		}
	}
}

func TestForceCNIVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.ForceCNIVersion = true; o.Spec.CNIVersion = "1.0.0" })
	p := e.write(t, "10-old.conf", `{"cniVersion":"0.3.1","name":"old","type":"bridge","bridge":"cni0"}`)
	if err := e.m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	m := decode(t, data)
	if m["cniVersion"] != "1.0.0" || m["bridge"] != "cni0" {
		t.Errorf("primary after force = %v", m)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("primary mode changed to %v", fi.Mode())
	}
}

func clusterNetwork(e *env) string {
	data, err := os.ReadFile(e.m.ConfPath())
	if err != nil {
		return ""
	}
	var m map[string]any
	if json.Unmarshal(data, &m) != nil {
		return "invalid"
	}
	s, _ := m["clusterNetwork"].(string)
	return s
}

func TestWatchFollowsPrimary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.write(t, "20-ptp.conf", ptpConf)
	if err := e.m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.m.Watch(ctx) }()

	// The primary changes: its capabilities show up.
	e.write(t, "20-ptp.conf", `{"cniVersion":"1.0.0","name":"ptpnet","type":"ptp","capabilities":{"portMappings":true}}`)
	testutil.Eventually(t, "capability change", 5*time.Second, func() bool {
		data, _ := os.ReadFile(e.m.ConfPath())
		return strings.Contains(string(data), "portMappings")
	})

	// An alphabetically earlier candidate appears and takes over.
	early := e.write(t, "10-bridge.conflist", bridgeList)
	testutil.Eventually(t, "switch to the earlier file", 5*time.Second, func() bool { return clusterNetwork(e) == early })

	// An unparsable write to the primary keeps the last good file.
	e.write(t, "10-bridge.conflist", `{"cniVer`)
	time.Sleep(100 * time.Millisecond)
	if got := clusterNetwork(e); got != early {
		t.Fatalf("after a bad write clusterNetwork = %q", got)
	}

	// The primary disappears: the next candidate takes over.
	if err := os.Remove(early); err != nil {
		t.Fatal(err)
	}
	later := filepath.Join(e.auto, "20-ptp.conf")
	testutil.Eventually(t, "fallback to the next candidate", 5*time.Second, func() bool { return clusterNetwork(e) == later })

	// The last candidate disappears: the file stays (fail closed).
	if err := os.Remove(later); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := clusterNetwork(e); got != later {
		t.Fatalf("with no candidate left clusterNetwork = %q, want the last file kept", got)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if _, err := os.Stat(e.m.ConfPath()); err != nil {
		t.Errorf("conf removed when the watch stopped: %v", err)
	}
}

func TestWatchReadinessRemoved(t *testing.T) {
	t.Parallel()
	readyDir := t.TempDir()
	ready := filepath.Join(readyDir, "ready")
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *Options) { o.ReadinessIndicatorFile = ready })
	e.write(t, "10-ptp.conf", ptpConf)
	if err := e.m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.m.Watch(context.Background()) }()
	time.Sleep(50 * time.Millisecond) // let the watch be installed
	if err := os.Remove(ready); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrReadinessGone) {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not notice the readiness file removal")
	}
	if _, err := os.Stat(e.m.ConfPath()); !os.IsNotExist(err) {
		t.Errorf("conf not removed: %v", err)
	}
}

func TestInstallUserConfig(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "70-multus.conf")
	if err := os.WriteFile(src, []byte(`{"type":"multus-shim"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dst, err := InstallUserConfig(src, dir)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(dst); string(data) != `{"type":"multus-shim"}` || dst != filepath.Join(dir, "70-multus.conf") {
		t.Errorf("dst %s = %q", dst, data)
	}
	if same, err := InstallUserConfig(dst, dir); err != nil || same != dst {
		t.Errorf("onto itself: %q, %v", same, err)
	}
	if _, err := InstallUserConfig(filepath.Join(dir, "missing.conf"), dir); err == nil {
		t.Error("missing source: no error")
	}
}

func TestWaitForFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "ready")
	err := WaitForFile(context.Background(), path, 5*time.Millisecond, 50*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v", err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		_ = os.WriteFile(path, nil, 0o644)
	}()
	if err := WaitForFile(context.Background(), path, 5*time.Millisecond, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}
