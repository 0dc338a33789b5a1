package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// SpecVersions are the CNI spec versions every table test runs against:
// the oldest one runtimes still send, the first with CHECK, the current
// result format and the first with GC and STATUS.
var SpecVersions = []string{"0.3.1", "0.4.0", "1.0.0", "1.1.0"}

// SyncBuffer is an io.Writer that several goroutines may write while a
// test reads it (a logger's output, a child process's stderr).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// pollInterval is how often Eventually re-checks.
const pollInterval = 10 * time.Millisecond

// Eventually polls cond until it holds, failing the test with "timed out
// waiting for <what>" after bound. The bound is a safety net for a
// condition another goroutine or process makes true, not a timing
// assertion: pick it generously.
func Eventually(t testing.TB, what string, bound time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", bound, what)
		}
		time.Sleep(pollInterval)
	}
}

// DefaultPluginDir is where `make plugins` leaves the reference CNI plugins
// (the version cache); MT_PLUGINS overrides it.
const DefaultPluginDir = "/var/cache/multus-thick/cni-plugins-v1.10.0"

// PluginDir returns the reference plugins' directory (MT_PLUGINS, else
// DefaultPluginDir) and fails the test if any of the named plugins is
// missing there.
func PluginDir(t testing.TB, plugins ...string) string {
	t.Helper()
	dir := os.Getenv("MT_PLUGINS")
	if dir == "" {
		dir = DefaultPluginDir
	}
	for _, p := range plugins {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Fatalf("reference plugin %s missing (set MT_PLUGINS, run make plugins): %v", p, err)
		}
	}
	return dir
}
