package atomicfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multus-thick/multus-thick/src/internal/atomicfile"
)

func TestWrite(t *testing.T) {
	cases := []struct {
		name     string
		existing string // content of path before, "" for none
		perm     fs.FileMode
		d        atomicfile.Durability
	}{
		{"new file, no sync", "", 0o600, atomicfile.NoSync},
		{"new file, sync", "", 0o644, atomicfile.Sync},
		{"replaces an existing file", "old content", 0o640, atomicfile.NoSync},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "00-multus.conf")
			if tc.existing != "" {
				if err := os.WriteFile(path, []byte(tc.existing), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := atomicfile.Write(path, []byte("new"), tc.perm, tc.d); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != "new" {
				t.Fatalf("content = %q, %v; want %q", got, err, "new")
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tc.perm {
				t.Errorf("mode = %v, want %v", fi.Mode().Perm(), tc.perm)
			}
			assertOnly(t, dir, "00-multus.conf")
		})
	}
}

func TestWriteFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	// The target is a non-empty directory: the rename fails, and neither
	// the target nor a temp file may be left changed.
	path := filepath.Join(dir, "cache")
	if err := os.MkdirAll(filepath.Join(path, "inside"), 0o700); err != nil {
		t.Fatal(err)
	}
	err := atomicfile.Write(path, []byte("x"), 0o600, atomicfile.Sync)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want one naming %s", err, path)
	}
	assertOnly(t, dir, "cache")

	err = atomicfile.Write(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600, atomicfile.NoSync)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want not-exist for a missing directory", err)
	}
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("directory holds %v, want %v (a temp file left behind?)", got, names)
	}
}
