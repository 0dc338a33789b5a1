package delegate

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	cnitypes "github.com/containernetworking/cni/pkg/types"
)

func writePlugin(t *testing.T, path, script string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestFindInPath(t *testing.T) {
	root := t.TempDir()
	writePlugin(t, filepath.Join(root, "opt/cni/bin/bridge"), "#!/bin/sh\n")
	if err := os.WriteFile(filepath.Join(root, "opt/cni/bin/noexec"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	host := t.TempDir()
	writePlugin(t, filepath.Join(host, "macvlan"), "#!/bin/sh\n")

	cases := []struct {
		name    string
		exec    *Exec
		plugin  string
		paths   []string
		want    string
		wantErr string
	}{
		{name: "chroot finds inside root", exec: NewChrootExec(root), plugin: "bridge", paths: []string{"/nowhere", "/opt/cni/bin"}, want: "/opt/cni/bin/bridge"},
		{name: "chroot ignores host path", exec: NewChrootExec(root), plugin: "macvlan", paths: []string{host}, wantErr: "inside " + root},
		{name: "no chroot finds on host", exec: NewExec(), plugin: "macvlan", paths: []string{host}, want: filepath.Join(host, "macvlan")},
		{name: "not executable", exec: NewChrootExec(root), plugin: "noexec", paths: []string{"/opt/cni/bin"}, wantErr: "failed to find plugin"},
		{name: "path separator rejected", exec: NewExec(), plugin: "../macvlan", paths: []string{host}, wantErr: "path separator"},
		{name: "empty name", exec: NewExec(), plugin: "", paths: []string{host}, wantErr: "no plugin name"},
		{name: "no paths", exec: NewExec(), plugin: "x", wantErr: "no paths"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.exec.FindInPath(tc.plugin, tc.paths)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				var cerr *cnitypes.Error
				if strings.Contains(tc.wantErr, "find") || strings.Contains(tc.wantErr, "separator") {
					if !errors.As(err, &cerr) || cerr.Code != cnitypes.ErrInvalidNetworkConfig {
						t.Errorf("want CNI code 7 for a bad type, got %#v", err)
					}
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestPluginError(t *testing.T) {
	exitErr := errors.New("exit status 1")
	cases := []struct {
		name     string
		stdout   string
		stderr   string
		wantCode uint
		wantMsg  string
	}{
		{name: "cni error json kept", stdout: `{"cniVersion":"1.0.0","code":7,"msg":"bad config","details":"x"}`, stderr: "noise", wantCode: 7, wantMsg: "bad config"},
		{name: "stderr only", stderr: "boom\n", wantCode: cnitypes.ErrInternal, wantMsg: `netplugin failed: "boom"`},
		{name: "nothing", wantCode: cnitypes.ErrInternal, wantMsg: "netplugin failed with no error message: exit status 1"},
		{name: "stdout not json", stdout: "garbage", wantCode: cnitypes.ErrInternal, wantMsg: `"garbage"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := pluginError(exitErr, []byte(tc.stdout), []byte(tc.stderr))
			var cerr *cnitypes.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("not a CNI error: %T %v", err, err)
			}
			if cerr.Code != tc.wantCode || !strings.Contains(cerr.Msg, tc.wantMsg) {
				t.Fatalf("got code %d msg %q; want %d containing %q", cerr.Code, cerr.Msg, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

func TestExecPluginRetriesTextFileBusy(t *testing.T) {
	cases := []struct {
		name      string
		busy      int
		wantCalls int
		wantErr   bool
	}{
		{name: "busy twice then ok", busy: 2, wantCalls: 3},
		{name: "always busy gives up", busy: 100, wantCalls: 3, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			e := &Exec{BusyAttempts: 3, BusyBackoff: time.Millisecond, run: func(cmd *exec.Cmd) error {
				calls++
				if calls <= tc.busy {
					return &fs.PathError{Op: "fork/exec", Path: cmd.Path, Err: syscall.ETXTBSY}
				}
				_, _ = cmd.Stdout.Write([]byte(`{}`))
				return nil
			}}
			out, err := e.ExecPlugin(context.Background(), "/x/plugin", nil, nil)
			if calls != tc.wantCalls {
				t.Fatalf("calls = %d, want %d", calls, tc.wantCalls)
			}
			if tc.wantErr != (err != nil) {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && string(out) != "{}" {
				t.Fatalf("out = %q", out)
			}
		})
	}
}

func TestExecPluginRealProcess(t *testing.T) {
	dir := t.TempDir()
	writePlugin(t, filepath.Join(dir, "echo"), "#!/bin/sh\necho \"{\\\"cmd\\\":\\\"$CNI_COMMAND\\\"}\"\ncat >/dev/null\necho warn >&2\n")
	writePlugin(t, filepath.Join(dir, "fail"), "#!/bin/sh\necho oops >&2\nexit 3\n")
	writePlugin(t, filepath.Join(dir, "hang"), "#!/bin/sh\nexec sleep 30\n")
	// A plugin whose child keeps stdout open must not outlive the deadline.
	writePlugin(t, filepath.Join(dir, "hangchild"), "#!/bin/sh\nsleep 30 &\nsleep 30\n")

	var stderr strings.Builder
	e := &Exec{Stderr: &stderr}
	out, err := e.ExecPlugin(context.Background(), filepath.Join(dir, "echo"), []byte("{}"), []string{"CNI_COMMAND=ADD"})
	if err != nil || strings.TrimSpace(string(out)) != `{"cmd":"ADD"}` {
		t.Fatalf("echo: %q, %v", out, err)
	}
	if stderr.String() != "warn\n" {
		t.Fatalf("stderr not forwarded: %q", stderr.String())
	}

	_, err = e.ExecPlugin(context.Background(), filepath.Join(dir, "fail"), nil, nil)
	var cerr *cnitypes.Error
	if !errors.As(err, &cerr) || !strings.Contains(cerr.Msg, `"oops"`) {
		t.Fatalf("fail: %v", err)
	}

	for _, p := range []string{"hang", "hangchild"} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err = e.ExecPlugin(ctx, filepath.Join(dir, p), nil, nil)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: want deadline exceeded, got %v", p, err)
		}
	}
}

func TestPoolRespectsContext(t *testing.T) {
	p := NewPool(1)
	if err := p.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("second acquire on a full pool: %v", err)
	}
	p.Release()
	if err := p.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p.InUse() != 1 {
		t.Fatalf("in use = %d", p.InUse())
	}
}
