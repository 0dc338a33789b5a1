package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprintf(&b, "%d\n", i)
		}()
	}
	wg.Wait()
	if got := len(b.String()); got != 16 {
		t.Errorf("buffer holds %d bytes, want 16: %q", got, b.String())
	}
}

func TestEventuallyWaitsForTheCondition(t *testing.T) {
	var mu sync.Mutex
	done := false
	go func() {
		time.Sleep(30 * time.Millisecond)
		mu.Lock()
		done = true
		mu.Unlock()
	}()
	Eventually(t, "the flag", 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return done })
}

func TestPluginDirFromEnv(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bridge"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MT_PLUGINS", dir)
	if got := PluginDir(t, "bridge"); got != dir {
		t.Errorf("PluginDir = %q, want %q", got, dir)
	}
	t.Setenv("MT_PLUGINS", "")
	if got := PluginDir(t); got != DefaultPluginDir {
		t.Errorf("PluginDir without MT_PLUGINS = %q, want %q", got, DefaultPluginDir)
	}
}
