package bake

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseKubeadmImages(t *testing.T) {
	t.Parallel()
	out := `registry.k8s.io/kube-apiserver:v1.37.2
registry.k8s.io/kube-controller-manager:v1.37.2
registry.k8s.io/kube-scheduler:v1.37.2
registry.k8s.io/kube-proxy:v1.37.2
registry.k8s.io/coredns/coredns:v1.14.6
registry.k8s.io/pause:3.10.2
registry.k8s.io/etcd:3.7.0-0
`
	got, err := ParseKubeadmImages(out)
	if err != nil {
		t.Fatal(err)
	}
	want := KubeadmImages{
		APIServer: "registry.k8s.io/kube-apiserver:v1.37.2", ControllerManager: "registry.k8s.io/kube-controller-manager:v1.37.2",
		Scheduler: "registry.k8s.io/kube-scheduler:v1.37.2", Proxy: "registry.k8s.io/kube-proxy:v1.37.2",
		Etcd: "registry.k8s.io/etcd:3.7.0-0", CoreDNS: "registry.k8s.io/coredns/coredns:v1.14.6", Pause: "registry.k8s.io/pause:3.10.2",
	}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if v := EtcdModuleVersion(Tag(got.Etcd)); v != "v3.7.0" {
		t.Errorf("etcd module version = %s, want v3.7.0", v)
	}
	if v := Tag(got.CoreDNS); v != "v1.14.6" {
		t.Errorf("coredns tag = %s", v)
	}

	if _, err := ParseKubeadmImages(strings.ReplaceAll(out, "registry.k8s.io/etcd:3.7.0-0\n", "")); err == nil {
		t.Error("want an error when etcd is missing")
	}
	if _, err := ParseKubeadmImages("registry.k8s.io/pause\n"); err == nil {
		t.Error("want an error for an untagged image")
	}
}

func TestPatchContainerdConfig(t *testing.T) {
	t.Parallel()
	kind := "[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"registry.k8s.io/pause:3.10\"\n  restrict_oom_score_adj = false\n"
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{"turns it on", kind, strings.Replace(kind, "= false", "= true", 1), false},
		{"already on", strings.Replace(kind, "= false", "= true", 1), strings.Replace(kind, "= false", "= true", 1), false},
		{"setting gone", "version = 2\n" + `sandbox_image = "registry.k8s.io/pause:3.10"`, "", true},
		{"other sandbox image", strings.Replace(kind, "3.10", "3.9", 1), "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := PatchContainerdConfig(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCRIBaseSpec(t *testing.T) {
	t.Parallel()
	in := `{"ociVersion":"1.0.2-dev","process":{"args":["sh"],"rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}]},"hooks":{"createContainer":[{"path":"/existing"}]}}`
	out, err := CRIBaseSpec([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Process map[string]any
		Hooks   struct{ CreateContainer []struct{ Path string } }
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Process["rlimits"]; ok {
		t.Error("rlimits kept")
	}
	if doc.Process["args"] == nil {
		t.Error("args lost")
	}
	var hooks []string
	for _, h := range doc.Hooks.CreateContainer {
		hooks = append(hooks, h.Path)
	}
	if want := []string{"/existing", "/kind/bin/mount-product-files.sh"}; !reflect.DeepEqual(hooks, want) {
		t.Errorf("hooks = %q, want %q", hooks, want)
	}
	// ctr oci spec prints no hooks at all: the hook list is created.
	out, err = CRIBaseSpec([]byte(`{"process":{}}`))
	if err != nil || !bytes.Contains(out, []byte("mount-product-files.sh")) {
		t.Errorf("no hooks: got %s, %v", out, err)
	}
}

func TestParseLdd(t *testing.T) {
	t.Parallel()
	out := "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibmnl.so.0 => /lib/x86_64-linux-gnu/libmnl.so.0 (0x00007f)\n" +
		"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n"
	want := []string{"/lib/x86_64-linux-gnu/libmnl.so.0", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}
	if got := ParseLdd(out); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDropImports(t *testing.T) {
	t.Parallel()
	const prefix = "github.com/flannel-io/flannel/pkg/backend/"
	src := "import (\n\t\"github.com/flannel-io/flannel/pkg/backend\"\n\t_ \"" + prefix + "hostgw\"\n\t_ \"" + prefix + "tencentvpc\"\n\t_ \"" + prefix + "udp\"\n\t_ \"" + prefix + "vxlan\"\n)\n"
	out, removed, err := DropImports([]byte(src), prefix, []string{"tencentvpc", "ipsec", "udp"})
	if err != nil {
		t.Fatal(err)
	}
	want := "import (\n\t\"github.com/flannel-io/flannel/pkg/backend\"\n\t_ \"" + prefix + "hostgw\"\n\t_ \"" + prefix + "vxlan\"\n)\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if !reflect.DeepEqual(removed, []string{"tencentvpc", "udp"}) {
		t.Errorf("removed = %q", removed)
	}
	if _, _, err := DropImports([]byte("import udp \""+prefix+"udp\"\n"), prefix, []string{"udp"}); err == nil {
		t.Error("want an error for a named import")
	}
}

func TestParseMirror(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"deb822", "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n\nTypes: deb\nURIs: http://mirror.example/debian-security\n", "http://mirror.example/debian"},
		{"security first", "URIs: http://m.example/debian-security\nURIs: http://m.example/debian\n", "http://m.example/debian"},
		{"one-line", "# comment\ndeb http://m.example/debian bookworm main\n", "http://m.example/debian"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseMirror(tc.in)
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := parseMirror("# nothing\n"); err == nil {
		t.Error("want an error without sources")
	}
}

// TestOverlay builds the overlay from a fake kind module tree and checks what the node gets.
func TestOverlay(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	put := func(p, body string) {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o444); err != nil { // module cache files are read-only
			t.Fatal(err)
		}
	}
	put("kind/usr/local/bin/entrypoint", "#!/bin/bash")
	put("kind/kind/bin/mount-product-files.sh", "#!/bin/sh")
	put("kind/etc/sysctl.d/10-network-security.conf", "net.ipv4.conf.all.rp_filter=1")
	put("kind/etc/containerd/config.toml", "sandbox_image = \"registry.k8s.io/pause:3.10\"\nrestrict_oom_score_adj = false\n")
	o := DefaultOptions(filepath.Join(root, "cache"))
	for _, p := range []string{o.crictlPath(), filepath.Join(o.cniDir(), "loopback"), filepath.Join(o.cniDir(), "ptp"),
		filepath.Join(o.cniDir(), "host-local"), filepath.Join(o.cniDir(), "portmap")} {
		put(strings.TrimPrefix(p, root+"/"), "bin")
	}
	for _, b := range []string{"kubeadm", "kubelet", "kubectl"} {
		put("k8s/"+b, b)
	}
	entries, err := overlay(o, filepath.Join(root, "kind"), filepath.Join(root, "k8s"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeOverlay(&buf, entries); err != nil {
		t.Fatal(err)
	}
	type got struct {
		mode int64
		link string
		body string
	}
	files := map[string]got{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		files[h.Name] = got{mode: h.Mode, link: h.Linkname, body: string(body)}
	}
	checks := map[string]got{
		"usr/local/bin/entrypoint":                                   {mode: 0o755, body: "#!/bin/bash"},
		"kind/bin/mount-product-files.sh":                            {mode: 0o755, body: "#!/bin/sh"},
		"etc/sysctl.d/10-network-security.conf":                      {mode: 0o644, body: "net.ipv4.conf.all.rp_filter=1"},
		"etc/containerd/config.toml":                                 {mode: 0o644, body: "sandbox_image = \"registry.k8s.io/pause:3.10\"\nrestrict_oom_score_adj = true\n"},
		"usr/bin/kubelet":                                            {mode: 0o755, body: "kubelet"},
		"usr/local/bin/crictl":                                       {mode: 0o755, body: "bin"},
		"opt/cni/bin/loopback":                                       {mode: 0o755, body: "bin"},
		"kind/version":                                               {mode: 0o644, body: "v1.37.2\n"},
		"usr/local/bin/containerd":                                   {mode: 0o777, link: "/usr/bin/containerd"},
		"etc/systemd/system/multi-user.target.wants/kubelet.service": {mode: 0o777, link: "/etc/systemd/system/kubelet.service"},
	}
	for name, want := range checks {
		if g, ok := files[name]; !ok || g != want {
			t.Errorf("%s = %+v (present %v), want %+v", name, g, ok, want)
		}
	}
	for _, name := range []string{"kind/manifests/default-cni.yaml", "kind/manifests/default-storage.yaml", "etc/kubernetes/manifests/"} {
		if _, ok := files[name]; !ok {
			t.Errorf("%s missing from the overlay", name)
		}
	}
}
