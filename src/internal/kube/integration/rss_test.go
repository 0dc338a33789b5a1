//go:build integration

package integration

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The RSS probe is rssprobe, a tiny program that only builds and starts
// the Kubernetes side the way the daemon does, then idles; the parent
// reads its VmRSS. It measures the caches plus client-go's base cost, not
// the whole daemon (whose composition root lives elsewhere).
const rssSettle = 3 * time.Second

var rssProbe struct {
	once sync.Once
	path string
	err  error
}

// buildRSSProbe builds rssprobe once per test binary.
func buildRSSProbe(t *testing.T) string {
	t.Helper()
	rssProbe.once.Do(func() {
		rssProbe.path = filepath.Join(suite.dir, "rssprobe")
		out, err := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", rssProbe.path,
			"github.com/multus-thick/multus-thick/src/internal/kube/integration/rssprobe").CombinedOutput()
		if err != nil {
			rssProbe.err = fmt.Errorf("build rssprobe: %v\n%s", err, out)
		}
	})
	if rssProbe.err != nil {
		t.Fatal(rssProbe.err)
	}
	return rssProbe.path
}

// idleRSS starts a child, waits for its caches and a settling pause, and
// returns its resident set in KiB. It logs the probe's Go heap figures.
func idleRSS(t *testing.T, node string) int {
	t.Helper()
	probe := buildRSSProbe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, probe, suite.daemonKC, node)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "synced") {
		t.Fatalf("RSS child did not sync: %q %v", line, err)
	}
	t.Logf("rssprobe: %s", strings.TrimSpace(line))
	time.Sleep(rssSettle) // idle means after the start-up garbage is collected
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]int{}
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && strings.HasPrefix(f[0], "Rss") || len(f) >= 2 && f[0] == "VmRSS:" {
			if kb, err := strconv.Atoi(f[1]); err == nil {
				fields[strings.TrimSuffix(f[0], ":")] = kb
			}
		}
	}
	// RssFile is the binary's mapped pages (shared, reclaimable);
	// RssAnon is what the process really owns.
	t.Logf("rssprobe: VmRSS %d KiB = RssAnon %d + RssFile %d + RssShmem %d",
		fields["VmRSS"], fields["RssAnon"], fields["RssFile"], fields["RssShmem"])
	if kb, ok := fields["VmRSS"]; ok {
		return kb
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}
