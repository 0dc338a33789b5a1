package delegate

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cnitypes "github.com/containernetworking/cni/pkg/types"
)

func env(command, containerID, pod string) []string {
	ns, name, _ := strings.Cut(pod, "/")
	return []string{"CNI_COMMAND=" + command, "CNI_CONTAINERID=" + containerID,
		"CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=" + ns + ";K8S_POD_NAME=" + name}
}

// waitFile polls for a file a plugin writes; bounded by the test's ctx.
func waitFile(ctx context.Context, t *testing.T, path string) string {
	t.Helper()
	for {
		if data, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(data), "\n") {
			return strings.TrimSpace(string(data))
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never written: %v", path, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestInDelegateOf runs a real plugin that starts a child of its own and
// checks that both are recognised as inside a delegate call of their
// container, and nothing else is.
func TestInDelegateOf(t *testing.T) {
	dir := t.TempDir()
	plugin := filepath.Join(dir, "plugin")
	// The plugin starts a grandchild in a new session (its own process
	// group, so only the parent chain links it) and one in the plugin's
	// group, then waits for both.
	writePlugin(t, plugin, `#!/bin/sh
setsid sleep 30 &
a=$!
sleep 30 &
b=$!
echo "$$ $a $b" > "$PIDFILE.tmp" && mv "$PIDFILE.tmp" "$PIDFILE"
wait
`)
	pidFile := filepath.Join(dir, "pids")
	e := NewExec()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := e.ExecPlugin(runCtx, plugin, nil, append(env("ADD", "c1", "ns/p"), "PIDFILE="+pidFile, "PATH="+os.Getenv("PATH")))
		done <- err
	}()
	var pids []int
	for _, f := range strings.Fields(waitFile(ctx, t, pidFile)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, n)
	}
	if len(pids) != 3 {
		t.Fatalf("pids = %v", pids)
	}
	for i, pid := range pids {
		if !e.InDelegateOf(pid, "c1") {
			t.Errorf("process %d (%s) not recognised as inside the delegate of c1", pid, []string{"plugin", "setsid child", "child"}[i])
		}
		if e.InDelegateOf(pid, "c2") {
			t.Errorf("process %d recognised as inside a delegate of c2", pid)
		}
	}
	if e.InDelegateOf(os.Getpid(), "c1") {
		t.Error("the daemon itself is inside its own delegate")
	}
	if e.InDelegateOf(0, "c1") {
		t.Error("an unknown peer (pid 0) is inside a delegate")
	}
	stop()
	<-done
	// setsid's sleep escaped the process group kill; end it.
	if p, err := os.FindProcess(pids[1]); err == nil {
		_ = p.Kill()
	}
	if e.InDelegateOf(pids[0], "c1") {
		t.Error("a finished plugin is still tracked")
	}
}

func TestReadStat(t *testing.T) {
	proc := t.TempDir()
	writeStat := func(pid, content string) {
		if err := os.MkdirAll(filepath.Join(proc, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proc, pid, "stat"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeStat("40", "40 (we ird) (name) S 30 20 20 0 -1 4194560\n")
	writeStat("41", "41 garbage")
	ppid, pgid, err := readStat(proc, 40)
	if err != nil || ppid != 30 || pgid != 20 {
		t.Errorf("readStat = %d, %d, %v; want 30, 20", ppid, pgid, err)
	}
	if _, _, err := readStat(proc, 41); err == nil {
		t.Error("malformed stat accepted")
	}
	if _, _, err := readStat(proc, 42); err == nil {
		t.Error("missing process accepted")
	}
	// Ancestry through the fake procfs: 40 -> 30 (a tracked plugin).
	e := &Exec{proc: proc}
	e.running.started(30, "c1")
	writeStat("30", "30 (plugin) S 1 30 30 0")
	if !e.InDelegateOf(40, "c1") || e.InDelegateOf(40, "c9") {
		t.Error("ancestry through procfs not followed")
	}
}

// TestPerPodBound: a pod at its bound is refused at once with a
// try-again error naming the pod and the key; DEL, other pods and the
// pod after a call ends are not.
func TestPerPodBound(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 8)
	e := &Exec{MaxPerPod: 2, run: func(*exec.Cmd) error {
		started <- struct{}{}
		<-release
		return nil
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = e.ExecPlugin(ctx, "/bin/true", nil, env("ADD", "c1", "team/hog"))
		}()
	}
	<-started
	<-started
	_, err := e.ExecPlugin(ctx, "/bin/true", nil, env("ADD", "c1", "team/hog"))
	var cerr *cnitypes.Error
	if !errors.As(err, &cerr) || cerr.Code != cnitypes.ErrTryAgainLater ||
		!strings.Contains(cerr.Msg, "team/hog") || !strings.Contains(cerr.Msg, "maxDelegatesPerPod") {
		t.Fatalf("third ADD: err = %#v, want code 11 naming the pod and the key", err)
	}
	for _, tc := range []struct{ name, command, pod string }{
		{"DEL of the same pod", "DEL", "team/hog"},
		{"another pod", "ADD", "team/quiet"},
		{"no pod (GC)", "GC", ""},
	} {
		wg.Add(1)
		errc := make(chan error, 1)
		go func() {
			defer wg.Done()
			_, err := e.ExecPlugin(ctx, "/bin/true", nil, env(tc.command, "c2", tc.pod))
			errc <- err
		}()
		select {
		case err := <-errc:
			t.Errorf("%s refused: %v", tc.name, err)
		case <-started:
		}
	}
	close(release)
	wg.Wait()
	e.run = func(*exec.Cmd) error { return nil }
	if _, err := e.ExecPlugin(ctx, "/bin/true", nil, env("ADD", "c1", "team/hog")); err != nil {
		t.Errorf("ADD after the others finished: %v", err)
	}
	if len(e.running.byPod) != 0 {
		t.Errorf("per-pod counts leaked: %v", e.running.byPod)
	}
}

func TestLocator(t *testing.T) {
	root := t.TempDir()
	writePlugin(t, filepath.Join(root, "opt/cni/bin/multus-shim"), "#!/bin/sh\n")
	if err := os.Symlink("multus-shim", filepath.Join(root, "opt/cni/bin/alias")); err != nil {
		t.Fatal(err)
	}
	extra := t.TempDir()
	writePlugin(t, filepath.Join(root, extra, "late"), "#!/bin/sh\n")
	l := Locator{Exec: NewChrootExec(root), ExtraPaths: []string{extra}}
	shim, err := l.Locate("/opt/cni/bin", "multus-shim")
	if err != nil {
		t.Fatal(err)
	}
	alias, err := l.Locate("/opt/cni/bin", "alias")
	if err != nil || !os.SameFile(shim, alias) {
		t.Errorf("alias: %v, same file %v", err, err == nil && os.SameFile(shim, alias))
	}
	if _, err := l.Locate("/opt/cni/bin", "late"); err != nil {
		t.Errorf("extra path inside the root: %v", err)
	}
	if _, err := l.Locate("/opt/cni/bin", "absent"); err == nil {
		t.Error("absent plugin located")
	}
}
