package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReplace(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		policy  Policy
		write   func(tmp string) error
		dirAt   bool // path is a non-empty directory: the rename fails
		want    string
		wantErr bool
	}{
		{name: "durable", policy: Durable, write: writeString("new"), want: "new"},
		{name: "not durable", policy: NotDurable, write: writeString("new"), want: "new"},
		{name: "write fails after a partial file", policy: Durable, write: func(tmp string) error {
			if err := os.WriteFile(tmp, []byte("ha"), 0o644); err != nil {
				return err
			}
			return boom
		}, want: "old", wantErr: true},
		{name: "write creates nothing", policy: NotDurable, write: func(string) error { return boom }, want: "old", wantErr: true},
		{name: "rename fails", policy: Durable, write: writeString("new"), dirAt: true, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out")
			if tc.dirAt {
				if err := os.MkdirAll(filepath.Join(path, "keep"), 0o755); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			err := Replace(path, tc.policy, tc.write)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if tc.want != "" {
				if got, _ := os.ReadFile(path); string(got) != tc.want {
					t.Errorf("path holds %q, want %q", got, tc.want)
				}
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("dir holds %v, want only the path (no temporary file)", names)
			}
		})
	}
}

func TestWriteFilePerm(t *testing.T) {
	for _, perm := range []os.FileMode{0o600, 0o755} {
		path := filepath.Join(t.TempDir(), "f")
		if err := WriteFile(path, []byte("x"), perm, Durable); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != perm {
			t.Errorf("mode %v (%v), want %v", fi.Mode().Perm(), err, perm)
		}
	}
}

func TestTempName(t *testing.T) {
	a, b := TempName("/x/y/out"), TempName("/x/y/out")
	if a == b || filepath.Dir(a) != "/x/y" || !strings.HasPrefix(filepath.Base(a), ".out.") {
		t.Errorf("TempName gave %s and %s: want two names, hidden, next to /x/y/out", a, b)
	}
}

func writeString(s string) func(string) error {
	return func(tmp string) error { return os.WriteFile(tmp, []byte(s), 0o644) }
}
