//go:build netns

package bench

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multus-thick/multus-thick/src/internal/testutil"
)

// TestStartInMountNS starts a process the way an in-cluster daemon is
// started and checks that it reads the token at client-go's fixed path and
// sees a network namespace created after it started, while the host's path
// stays empty and the mount point goes after the undo.
func TestStartInMountNS(t *testing.T) {
	testutil.RequireRoot(t)
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ServiceAccountDir); err == nil {
		t.Skipf("%s exists on this host: the test would not prove the host is left alone", ServiceAccountDir)
	}
	h := host{prefix: "mtbt" + randomID(2), ip: ip}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Make /run/netns a shared mount first, as setupInCluster does.
	if err := h.addNetns(ctx, []string{h.prefix + "a"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = h.sweep(context.Background()) })

	view, err := writeInCluster(filepath.Join(t.TempDir(), "sa"), "https://127.0.0.1:6443", []byte("secret-token"), []byte("ca"), "kube-system")
	if err != nil {
		t.Fatal(err)
	}
	target, undo, err := mountPoint(ServiceAccountDir)
	if err != nil {
		t.Fatal(err)
	}
	gate := filepath.Join(t.TempDir(), "go")
	later := h.prefix + "b"
	// The child prints the token, then waits for the gate and lists
	// /run/netns, where the namespace made meanwhile must show.
	script := `cat ` + ServiceAccountDir + `/token; echo; while [ ! -e ` + gate + ` ]; do sleep 0.05; done; ls ` + NetnsDir
	cmd := exec.Command("sh", "-c", script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := startInMountNS(cmd, view.dir, target, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(target); err != nil || len(entries) != 0 {
		t.Errorf("the host's %s holds %v (%v), want it empty: the mount must stay in the child's namespace", target, entries, err)
	}
	if err := h.addNetns(ctx, []string{later}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("child: %v: %s", err, out.String())
		}
	case <-ctx.Done():
		t.Fatal("child did not finish")
	}
	lines := strings.Split(out.String(), "\n")
	if lines[0] != "secret-token" {
		t.Errorf("child read token %q, want secret-token (output %q)", lines[0], out.String())
	}
	if !strings.Contains(out.String(), later) {
		t.Errorf("child did not see netns %s created after it started: %q", later, out.String())
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ServiceAccountDir); !os.IsNotExist(err) {
		t.Errorf("%s left on the host: %v", ServiceAccountDir, err)
	}
}
