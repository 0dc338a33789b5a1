package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	src := filepath.Join(t.TempDir(), "multus-shim")
	if err := os.WriteFile(src, []byte("bin"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	cases := []struct {
		name     string
		args     []string
		wantCode int
		wantFile string
		wantErr  string
	}{
		{"dir form", []string{"-dst-dir", dst, src}, 0, filepath.Join(dst, "multus-shim"), ""},
		{"src/dst form", []string{"-src", src, "-dst", filepath.Join(dst, "renamed")}, 0, filepath.Join(dst, "renamed"), ""},
		{"src without dst", []string{"-src", src}, 2, "", "go together"},
		{"nothing named", []string{"-dst-dir", dst}, 1, "", "nothing to install"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.wantCode {
				t.Fatalf("exit %d, want %d (stderr %s)", code, tc.wantCode, stderr.String())
			}
			if tc.wantFile != "" {
				if data, err := os.ReadFile(tc.wantFile); err != nil || string(data) != "bin" {
					t.Errorf("installed file: %q %v", data, err)
				}
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.wantErr)
			}
		})
	}
}
