package image

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestWriteAndReadBack(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(p, content string, mode os.FileMode) string {
		t.Helper()
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return full
	}
	bin := write("src/pause", "#!pause", 0o644)
	write("tree/etc/app.conf", "conf", 0o600)
	write("tree/lib/x.so", "lib", 0o644)
	if err := os.Symlink("x.so", filepath.Join(dir, "tree/lib/x.so.1")); err != nil {
		t.Fatal(err)
	}
	// An existing tarball layer, as the iptables layer is.
	tarPath := filepath.Join(dir, "extra.tar")
	writeTar(t, tarPath, map[string]string{"usr/sbin/iptables": "ipt"})

	spec := Spec{
		Ref: "registry.k8s.io/pause:3.10.2",
		Layers: []Layer{
			{Tarball: tarPath},
			{Dir: filepath.Join(dir, "tree"), DirPref: "/opt/app"},
			{Files: []File{{Src: bin, Dst: "/pause", Mode: 0o755}}, Symlinks: map[string]string{"/usr/bin/pause": "/pause"}},
		},
		Config: Config{Entrypoint: []string{"/pause"}, Env: []string{"A=b"}, WorkingDir: "/work"},
	}
	out := filepath.Join(dir, "pause.tar")
	if err := Write(spec, out); err != nil {
		t.Fatalf("Write: %v", err)
	}

	tags, err := Tags(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tags, []string{"registry.k8s.io/pause:3.10.2"}) {
		t.Errorf("tags = %q", tags)
	}
	tag, _ := name.NewTag(spec.Ref)
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cf.Config.Entrypoint, []string{"/pause"}) || cf.Config.WorkingDir != "/work" || cf.OS != "linux" {
		t.Errorf("config = %+v (os %s)", cf.Config, cf.OS)
	}
	if !reflect.DeepEqual(cf.Config.Env, []string{DefaultPath, "A=b"}) {
		t.Errorf("env = %q, want PATH added before A=b", cf.Config.Env)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 3 {
		t.Fatalf("layers = %d, %v; want 3", len(layers), err)
	}
	want := []map[string]entry{
		{"usr/sbin/iptables": {mode: 0o644, body: "ipt"}},
		{"opt/": {dir: true}, "opt/app/": {dir: true}, "opt/app/etc/": {dir: true}, "opt/app/etc/app.conf": {mode: 0o600, body: "conf"},
			"opt/app/lib/": {dir: true}, "opt/app/lib/x.so": {mode: 0o644, body: "lib"}, "opt/app/lib/x.so.1": {link: "x.so"}},
		{"pause": {mode: 0o755, body: "#!pause"}, "usr/": {dir: true}, "usr/bin/": {dir: true}, "usr/bin/pause": {link: "/pause"}},
	}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		got := readTar(t, rc)
		rc.Close()
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("layer %d =\n%+v\nwant\n%+v", i, got, want[i])
		}
	}
}

func TestWriteRejectsBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		spec Spec
	}{
		{"bad ref", Spec{Ref: "UPPER/Case:tag"}},
		{"missing file", Spec{Ref: "x/y:1", Layers: []Layer{{Files: []File{{Src: filepath.Join(dir, "nope"), Dst: "/nope"}}}}}},
		{"missing tarball", Spec{Ref: "x/y:1", Layers: []Layer{{Tarball: filepath.Join(dir, "nope.tar")}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(dir, tc.name+".tar")
			if err := Write(tc.spec, out); err == nil {
				t.Fatal("want an error")
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("failed Write left %s behind", out)
			}
		})
	}
}

type entry struct {
	dir  bool
	link string
	mode int64
	body string
}

func readTar(t *testing.T, r io.Reader) map[string]entry {
	t.Helper()
	got := map[string]entry{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			got[h.Name] = entry{dir: true}
		case tar.TypeSymlink:
			got[h.Name] = entry{link: h.Linkname}
		default:
			body, _ := io.ReadAll(tr)
			got[h.Name] = entry{mode: h.Mode, body: string(body)}
		}
	}
}

func writeTar(t *testing.T, p string, files map[string]string) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for n, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	f.Close()
}
