package install_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multus-thick/multus-thick/src/internal/install"
)

func TestFilesReplacesAtomically(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	shim := filepath.Join(src, "multus-shim")
	if err := os.WriteFile(shim, []byte("#!/bin/sh\necho new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dst, "multus-shim")
	if err := os.WriteFile(old, []byte("#!/bin/sh\nsleep 5\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Keep the old binary executing: a plain copy over it would fail with
	// "text file busy"; the rename must not.
	busy := exec.Command(old)
	if err := busy.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = busy.Process.Kill(); _ = busy.Wait() }()

	if err := install.Files(dst, []string{shim}); err != nil {
		t.Fatalf("install over a running binary: %v", err)
	}
	out, err := exec.Command(old).Output()
	if err != nil || strings.TrimSpace(string(out)) != "new" {
		t.Fatalf("installed binary printed %q (%v), want new", out, err)
	}
	st, _ := os.Stat(old)
	if st.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, want 0755", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dst)
	if len(entries) != 1 {
		t.Errorf("destination holds %d entries, want only the binary (no temp files)", len(entries))
	}
}

func TestFilesErrors(t *testing.T) {
	dst := t.TempDir()
	notDir := filepath.Join(dst, "file")
	_ = os.WriteFile(notDir, nil, 0o644)
	cases := []struct {
		name, dir string
		srcs      []string
		want      string
	}{
		{"no sources", dst, nil, "nothing to install"},
		{"missing source", dst, []string{filepath.Join(dst, "nope")}, "nope"},
		{"destination missing", filepath.Join(dst, "absent"), []string{notDir}, "destination dir"},
		{"destination is a file", notDir, []string{notDir}, "not a directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := install.Files(tc.dir, tc.srcs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	entries, _ := os.ReadDir(dst)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".install-") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

// A set is all or nothing up to the renames: when the second source is
// missing, the first target keeps its old content and no temp file stays.
func TestFilesNothingHalfInstalled(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	shim := filepath.Join(src, "multus-shim")
	if err := os.WriteFile(shim, []byte("new shim"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dst, "multus-shim")
	if err := os.WriteFile(old, []byte("old shim"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := install.Files(dst, []string{shim, filepath.Join(src, "passthru")})
	if err == nil || !strings.Contains(err.Error(), "passthru") {
		t.Fatalf("err = %v, want one naming the missing passthru", err)
	}
	if data, _ := os.ReadFile(old); string(data) != "old shim" {
		t.Errorf("multus-shim = %q, want the old one kept", data)
	}
	entries, _ := os.ReadDir(dst)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("destination holds %v, want only the old multus-shim", names)
	}
}
