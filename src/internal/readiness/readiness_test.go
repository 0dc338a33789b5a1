package readiness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "subnet.env")
	if err := os.WriteFile(file, []byte("FLANNEL_SUBNET=10.244.1.1/24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		wantErr []string // substrings; nil: ready
	}{
		{"regular file", file, nil},
		{"empty file counts", empty, nil},
		{"symlink to a file", link, nil},
		{"missing", filepath.Join(dir, "nope"), []string{"nope", "does not exist"}},
		{"directory", dir, []string{dir, "is a directory"}},
		{"parent dir missing", filepath.Join(dir, "flannel", "subnet.env"), []string{"flannel/subnet.env", "nor does its directory"}},
		{"parent is a file", filepath.Join(file, "x"), []string{"subnet.env/x", "not a directory"}},
		{"dangling symlink", mustSymlink(t, filepath.Join(dir, "gone"), filepath.Join(dir, "dangling")), []string{"dangling", "does not exist"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := (&Indicator{Path: tc.path}).Check()
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Check = %v, want ready", err)
				}
				return
			}
			if !errors.Is(err, ErrNotReady) {
				t.Fatalf("Check = %v, want ErrNotReady", err)
			}
			for _, s := range tc.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Check = %q, want it to contain %q", err, s)
				}
			}
		})
	}
}

func mustSymlink(t *testing.T, target, name string) string {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestWait(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rel     string                          // the file, under a temp dir
		setup   func(t *testing.T, path string) // before Wait
		later   func(t *testing.T, path string) // while Wait polls
		wantErr []string
	}{
		{name: "already there", rel: "ready", setup: writeFile},
		{name: "appears while waiting", rel: "ready", later: writeFile},
		{name: "never appears", rel: "ready", wantErr: []string{"does not exist", "after waiting 150ms", "default network is ready"}},
		{name: "directory until the bound", rel: "ready", setup: mkdir, wantErr: []string{"is a directory", "after waiting 150ms"}},
		{name: "parent dir missing until the bound", rel: "missing/ready",
			wantErr: []string{"nor does its directory", "after waiting 150ms"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), tc.rel)
			if tc.setup != nil {
				tc.setup(t, path)
			}
			ind := &Indicator{Path: path, Interval: 10 * time.Millisecond, Timeout: 150 * time.Millisecond}
			if tc.later != nil {
				// Wait must not have succeeded before the file exists.
				if err := ind.Check(); err == nil {
					t.Fatal("ready before the file was written")
				}
				go func() { time.Sleep(30 * time.Millisecond); tc.later(t, path) }()
				ind.Timeout = 10 * time.Second
			}
			err := ind.Wait(context.Background())
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Wait = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Wait = %v, want ErrNotReady naming %s", err, path)
			}
			for _, s := range tc.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Wait = %q, want it to contain %q", err, s)
				}
			}
		})
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ind := &Indicator{Path: filepath.Join(t.TempDir(), "never"), Interval: time.Hour, Timeout: time.Hour}
	if err := ind.Wait(ctx); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Wait on a done context = %v", err)
	}
}

func writeFile(t *testing.T, path string) {
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Error(err)
	}
}

func mkdir(t *testing.T, path string) {
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Error(err)
	}
}
