package nodecert

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Bad configuration fails before anything is written, naming the key.
func TestStartRefusesBadOptions(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such.kubeconfig")
	tests := []struct {
		name string
		opts Options
		want []string
		is   error
	}{
		{name: "no node name", opts: Options{BootstrapKubeconfig: missing, CertDir: dir}, want: []string{"MULTUS_NODE_NAME"}},
		{name: "no bootstrap kubeconfig", opts: Options{NodeName: "w1", CertDir: dir}, want: []string{"bootstrapKubeconfig is required"}},
		{name: "no certDir", opts: Options{NodeName: "w1", BootstrapKubeconfig: missing}, want: []string{"certDir is required"}},
		{name: "bootstrap kubeconfig does not exist", opts: Options{NodeName: "w1", BootstrapKubeconfig: missing, CertDir: filepath.Join(dir, "certs")},
			want: []string{"bootstrapKubeconfig", missing}, is: fs.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Start(context.Background(), tc.opts)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v does not contain %q", err, w)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
			if matches, _ := filepath.Glob(filepath.Join(dir, "certs", "*")); len(matches) > 0 {
				t.Errorf("files written on a refused config: %v", matches)
			}
		})
	}
}

func TestRotationCheck(t *testing.T) {
	for _, tc := range []struct{ lifetime, want time.Duration }{
		{10 * time.Minute, 10 * time.Second}, // upstream's 10 s under 1 h
		{20 * time.Second, time.Second},
		{0, time.Second}, // no certificate yet
		{2 * time.Minute, 6 * time.Second},
		{24 * time.Hour, time.Minute},
	} {
		if got := rotationCheck(tc.lifetime); got != tc.want {
			t.Errorf("rotationCheck(%s) = %s, want %s", tc.lifetime, got, tc.want)
		}
	}
}
