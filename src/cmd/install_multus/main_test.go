package main

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// image lays out the image's bin dir: the named binaries, each holding its
// own name.
func image(t *testing.T, names ...string) func() (string, error) {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return func() (string, error) { return dir, nil }
}

// contents maps each file in dir to its content.
func contents(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(data)
	}
	return out
}

func TestRun(t *testing.T) {
	full := []string{"multus-shim", "passthru", "multus-daemon"}
	tests := []struct {
		name     string
		image    []string
		args     func(dst string) []string
		wantCode int
		// wantDst is the destination's content afterwards; it starts with
		// an old multus-shim, so an untouched directory is {"multus-shim": "old"}.
		wantDst map[string]string
		wantOut string
		wantErr string
	}{
		{name: "upstream's init container command", image: full,
			args:    func(dst string) []string { return []string{"-d", dst, "-t", "thick"} },
			wantDst: map[string]string{"multus-shim": "multus-shim", "passthru": "passthru"},
			wantOut: "installed multus-shim, passthru (thick) into "},
		{name: "long flags", image: full,
			args:    func(dst string) []string { return []string{"--type", "thick", "--dest-dir", dst} },
			wantDst: map[string]string{"multus-shim": "multus-shim", "passthru": "passthru"}},
		{name: "unknown type", image: full,
			args:     func(dst string) []string { return []string{"-t", "thik", "-d", dst} },
			wantCode: 2, wantDst: map[string]string{"multus-shim": "old"}, wantErr: `-t "thik": unknown type (want thick)`},
		{name: "thin is refused with the reason", image: full,
			args:     func(dst string) []string { return []string{"-t", "thin", "-d", dst} },
			wantCode: 2, wantDst: map[string]string{"multus-shim": "old"}, wantErr: "-t thin: the thin plugin (multus) is not part of multus-thick"},
		{name: "type without dest dir", image: full,
			args:     func(string) []string { return []string{"-t", "thick"} },
			wantCode: 2, wantDst: map[string]string{"multus-shim": "old"}, wantErr: "-t thick needs -d/--dest-dir"},
		{name: "dest dir does not exist", image: full,
			args:     func(dst string) []string { return []string{"-t", "thick", "-d", filepath.Join(dst, "absent")} },
			wantCode: 1, wantDst: map[string]string{"multus-shim": "old"}, wantErr: "destination dir: stat "},
		{name: "dest dir is a file", image: full,
			args:     func(dst string) []string { return []string{"-t", "thick", "-d", filepath.Join(dst, "multus-shim")} },
			wantCode: 1, wantDst: map[string]string{"multus-shim": "old"}, wantErr: "is not a directory"},
		{name: "image without passthru: nothing half-installed", image: []string{"multus-shim"},
			args:     func(dst string) []string { return []string{"-t", "thick", "-d", dst} },
			wantCode: 1, wantDst: map[string]string{"multus-shim": "old"}, wantErr: "passthru"},
		{name: "dest dir without type", image: full,
			args:     func(dst string) []string { return []string{"-d", dst} },
			wantCode: 2, wantDst: map[string]string{"multus-shim": "old"}, wantErr: "add -t thick"},
		{name: "type and files", image: full,
			args:     func(dst string) []string { return []string{"-t", "thick", "-d", dst, "x"} },
			wantCode: 2, wantDst: map[string]string{"multus-shim": "old"}, wantErr: "name no files"},
		{name: "nothing named", image: full,
			args:     func(dst string) []string { return []string{"-dst-dir", dst} },
			wantCode: 2, wantDst: map[string]string{"multus-shim": "old"}, wantErr: "nothing to install"},
		{name: "unknown flag", image: full,
			args:     func(string) []string { return []string{"-x"} },
			wantCode: 2, wantDst: map[string]string{"multus-shim": "old"}, wantErr: "flag provided but not defined: -x"},
		{name: "help", image: full, args: func(string) []string { return []string{"-h"} },
			wantDst: map[string]string{"multus-shim": "old"}, wantErr: "-dest-dir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := t.TempDir()
			if err := os.WriteFile(filepath.Join(dst, "multus-shim"), []byte("old"), 0o755); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if code := run(tc.args(dst), image(t, tc.image...), &stdout, &stderr); code != tc.wantCode {
				t.Fatalf("exit %d, want %d (stderr %s)", code, tc.wantCode, stderr.String())
			}
			if got := contents(t, dst); !maps.Equal(got, tc.wantDst) {
				t.Errorf("destination = %v, want %v", got, tc.wantDst)
			}
			if !strings.Contains(stdout.String(), tc.wantOut) {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.wantOut)
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.wantErr)
			}
		})
	}
}

// The earlier forms keep working: what our DaemonSet ran before this
// installer took upstream's flags.
func TestRunEarlierForms(t *testing.T) {
	src := image(t, "multus-shim")
	dir, _ := src()
	shim := filepath.Join(dir, "multus-shim")
	dst := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-dst-dir", dst, shim}, src, &stdout, &stderr); code != 0 {
		t.Fatalf("dir form: exit %d: %s", code, stderr.String())
	}
	if code := run([]string{"-src", shim, "-dst", filepath.Join(dst, "renamed")}, src, &stdout, &stderr); code != 0 {
		t.Fatalf("src/dst form: exit %d: %s", code, stderr.String())
	}
	if got := contents(t, dst); !maps.Equal(got, map[string]string{"multus-shim": "multus-shim", "renamed": "multus-shim"}) {
		t.Errorf("destination = %v", got)
	}
	if code := run([]string{"-src", shim}, src, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "go together") {
		t.Errorf("-src alone: exit %d, stderr %q", code, stderr.String())
	}
}

func TestRunCannotLocateItself(t *testing.T) {
	var stdout, stderr bytes.Buffer
	dst := t.TempDir()
	broken := func() (string, error) { return "", errors.New("locate the installer: no /proc") }
	if code := run([]string{"-t", "thick", "-d", dst}, broken, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "no /proc") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}
