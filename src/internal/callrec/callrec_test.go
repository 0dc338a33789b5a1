package callrec_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multus-thick/multus-thick/src/internal/callrec"
)

// fakePlugin is a shell plugin that echoes its stdin to stdout, writes CNI_IFNAME to
// stderr and then does what its first config line says.
const fakePlugin = `#!/bin/sh
in=$(cat)
printf '%s' "$in"
echo "ifname=$CNI_IFNAME extra=$MT_EXTRA" >&2
case "$in" in
  *'"exit7"'*) exit 7 ;;
  *'"cnierr"'*) printf '{"code":11,"msg":"boom"}'; exit 1 ;;
  *'"kill"'*) kill -9 $$ ;;
esac
exit 0
`

func TestWrapper(t *testing.T) {
	env := []string{
		"CNI_COMMAND=ADD", "CNI_CONTAINERID=abc123", "CNI_NETNS=/var/run/netns/x", "CNI_IFNAME=net1",
		"CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=mt-repro-x;K8S_POD_NAME=p=1", "CNI_PATH=/opt/cni/bin",
		"PATH=/usr/bin:/bin", "MT_EXTRA=kept", "SECRET=not-recorded",
	}
	cases := []struct {
		name       string
		stdin      string
		install    bool // install the real plugin next to the wrapper
		wantCode   int
		wantSignal string
		wantStdout string // substring
		wantRunErr bool
	}{
		{name: "success passes stdin through unchanged", stdin: `{"cniVersion":"1.0.0","type":"mt-repro-fake"}`, install: true, wantCode: 0, wantStdout: `{"cniVersion":"1.0.0","type":"mt-repro-fake"}`},
		{name: "CNI error on stdout, exit 1", stdin: `{"x":"cnierr"}`, install: true, wantCode: 1, wantStdout: `"code":11`},
		{name: "plain exit code", stdin: `{"x":"exit7"}`, install: true, wantCode: 7},
		{name: "killed by a signal", stdin: `{"x":"kill"}`, install: true, wantCode: 137, wantSignal: "killed"},
		{name: "real plugin missing", stdin: `{}`, install: false, wantCode: 1, wantStdout: `"code":999`, wantRunErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bin, root := t.TempDir(), t.TempDir()
			if tc.install {
				if err := os.WriteFile(filepath.Join(bin, "fake"), []byte(fakePlugin), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, stderr bytes.Buffer
			now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
			w := &callrec.Wrapper{
				Root: root, Self: filepath.Join(bin, "mt-repro-fake"), Environ: env,
				Stdin: strings.NewReader(tc.stdin), Stdout: &stdout, Stderr: &stderr, PID: 42,
				Now: func() time.Time { now = now.Add(5 * time.Millisecond); return now },
			}
			code := w.Run(context.Background())
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("stdout %q lacks %q", stdout.String(), tc.wantStdout)
			}
			dirs, err := filepath.Glob(filepath.Join(root, "mt-repro-x", "*-42-ADD"))
			if err != nil || len(dirs) != 1 {
				t.Fatalf("call dirs %v (%v), want one under the pod's namespace", dirs, err)
			}
			dir := dirs[0]
			if got := read(t, dir, callrec.FileStdin); got != tc.stdin {
				t.Errorf("recorded stdin %q, want the exact %q", got, tc.stdin)
			}
			recEnv := read(t, dir, callrec.FileEnv)
			if !strings.Contains(recEnv, "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=mt-repro-x;K8S_POD_NAME=p=1\n") ||
				!strings.Contains(recEnv, "PATH=/usr/bin:/bin\n") || strings.Contains(recEnv, "SECRET") || strings.Contains(recEnv, "MT_EXTRA") {
				t.Errorf("recorded env:\n%s", recEnv)
			}
			if got := read(t, dir, callrec.FileStdout); got != stdout.String() {
				t.Errorf("recorded stdout %q, the daemon got %q", got, stdout.String())
			}
			if tc.install && !strings.Contains(read(t, dir, callrec.FileStderr), "ifname=net1 extra=kept") {
				t.Errorf("stderr %q: the plugin must get the whole environment", read(t, dir, callrec.FileStderr))
			}
			var meta callrec.Meta
			decode(t, dir, callrec.FileMeta, &meta)
			if meta.Command != "ADD" || meta.Type != "fake" || meta.Plugin != filepath.Join(bin, "fake") ||
				meta.ContainerID != "abc123" || meta.Pod != "p=1" || meta.Namespace != "mt-repro-x" {
				t.Errorf("meta %+v", meta)
			}
			var ex callrec.Exit
			decode(t, dir, callrec.FileExit, &ex)
			if ex.Code != tc.wantCode || ex.Signal != tc.wantSignal || (ex.Error != "") != tc.wantRunErr || ex.DurationMs != 5 {
				t.Errorf("exit %+v, want code %d signal %q", ex, tc.wantCode, tc.wantSignal)
			}
		})
	}
}

func TestWrapperMisnamed(t *testing.T) {
	var stdout, stderr bytes.Buffer
	w := &callrec.Wrapper{Root: t.TempDir(), Self: "/opt/cni/bin/recorder", Stdin: strings.NewReader("{}"),
		Stdout: &stdout, Stderr: &stderr, Now: time.Now}
	if code := w.Run(context.Background()); code != 1 || !strings.Contains(stdout.String(), `"code":7`) {
		t.Errorf("exit %d stdout %q, want a CNI error 7 naming the install rule", code, stdout.String())
	}
}

// A call without a pod (VERSION, GC, STATUS) is forwarded and not recorded.
func TestWrapperWithoutPod(t *testing.T) {
	bin, root := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "fake"), []byte(fakePlugin), 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	w := &callrec.Wrapper{Root: root, Self: filepath.Join(bin, "mt-repro-fake"), Environ: []string{"CNI_COMMAND=VERSION"},
		Stdin: strings.NewReader(`{"cniVersion":"1.0.0"}`), Stdout: &stdout, Stderr: &stderr, Now: time.Now}
	if code := w.Run(context.Background()); code != 0 || stdout.String() != `{"cniVersion":"1.0.0"}` {
		t.Fatalf("exit %d stdout %q stderr %q", code, stdout.String(), stderr.String())
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("recorded %v, want nothing", entries)
	}
}

func TestRealPlugin(t *testing.T) {
	for _, tc := range []struct{ self, typ, plugin string }{
		{"/opt/cni/bin/mt-repro-macvlan", "macvlan", "/opt/cni/bin/macvlan"},
		{"/x/mt-repro-mt-repro-a", "mt-repro-a", "/x/mt-repro-a"},
		{"/opt/cni/bin/mt-repro-", "", ""},
		{"/opt/cni/bin/macvlan", "", ""},
	} {
		typ, plugin, err := callrec.RealPlugin(tc.self)
		if typ != tc.typ || plugin != tc.plugin || (err != nil) != (tc.typ == "") {
			t.Errorf("RealPlugin(%q) = %q, %q, %v", tc.self, typ, plugin, err)
		}
	}
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func decode(t *testing.T, dir, name string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(read(t, dir, name)), v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}
