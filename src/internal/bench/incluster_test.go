package bench

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWriteInCluster(t *testing.T) {
	tests := []struct {
		name     string
		server   string
		token    string
		ns       string
		wantEnv  []string
		wantFail bool
	}{
		{name: "loopback API server", server: "https://127.0.0.1:39123", token: "tok", ns: "kube-system",
			wantEnv: []string{"KUBERNETES_SERVICE_HOST=127.0.0.1", "KUBERNETES_SERVICE_PORT=39123"}},
		{name: "IPv6 host", server: "https://[::1]:6443", token: "tok", ns: "kube-system",
			wantEnv: []string{"KUBERNETES_SERVICE_HOST=::1", "KUBERNETES_SERVICE_PORT=6443"}},
		{name: "plain http is refused (in-cluster config is TLS only)", server: "http://127.0.0.1:8080", token: "tok", ns: "x", wantFail: true},
		{name: "no port", server: "https://127.0.0.1", token: "tok", ns: "x", wantFail: true},
		{name: "no token", server: "https://127.0.0.1:1", ns: "x", wantFail: true},
		{name: "no namespace", server: "https://127.0.0.1:1", token: "tok", wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sa")
			v, err := writeInCluster(dir, tt.server, []byte(tt.token), []byte("-----BEGIN CERTIFICATE-----\n"), tt.ns)
			if (err != nil) != tt.wantFail {
				t.Fatalf("err = %v, wantFail %v", err, tt.wantFail)
			}
			if tt.wantFail {
				return
			}
			if !slices.Equal(v.env, tt.wantEnv) || v.dir != dir {
				t.Fatalf("view = %+v, want env %v in %s", v, tt.wantEnv, dir)
			}
			for name, want := range map[string]string{"token": tt.token, "namespace": tt.ns, "ca.crt": "-----BEGIN CERTIFICATE-----\n"} {
				got, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil || string(got) != want {
					t.Errorf("%s = %q, %v; want %q", name, got, err, want)
				}
			}
		})
	}
}

func TestMountPointRemovesOnlyWhatItCreated(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("run", filepath.Join(root, "varrun")); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(root, "varrun", "secrets", "kubernetes.io", "serviceaccount")
	real, undo, err := mountPoint(target)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "run", "secrets", "kubernetes.io", "serviceaccount"); real != want {
		t.Fatalf("mount point %s, want the resolved %s", real, want)
	}
	if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
		t.Fatalf("mount point not created: %v", err)
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "run", "secrets")); !os.IsNotExist(err) {
		t.Fatalf("created directories left behind: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "run")); err != nil {
		t.Fatalf("the pre-existing directory was removed: %v", err)
	}
}
