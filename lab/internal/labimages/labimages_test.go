package labimages

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fakeInputs(t *testing.T, bins ...string) Inputs {
	t.Helper()
	dir := t.TempDir()
	in := Inputs{BinDir: filepath.Join(dir, "bin"), Busybox: filepath.Join(dir, "busybox"),
		Flanneld: filepath.Join(dir, "flanneld"), OutDir: filepath.Join(dir, "out")}
	if err := os.MkdirAll(in.BinDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range append([]string{in.Busybox, in.Flanneld}, bins...) {
		p := f
		if !filepath.IsAbs(f) {
			p = filepath.Join(in.BinDir, f)
		}
		if err := os.WriteFile(p, []byte("#!/bin/true\n"+f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

func TestSpecsRequireDaemonBinaries(t *testing.T) {
	in := fakeInputs(t, "multus-shim", "install-multus")
	_, err := Specs(in)
	if err == nil || !strings.Contains(err.Error(), "multus-daemon") || !strings.Contains(err.Error(), "make build") {
		t.Fatalf("err = %v, want one naming multus-daemon and make build", err)
	}
}

func TestSpecsOptionalToolsOnlyWhenBuilt(t *testing.T) {
	in := fakeInputs(t, "multus-daemon", "multus-shim", "install-multus", "cni-fault")
	specs, err := Specs(in)
	if err != nil {
		t.Fatal(err)
	}
	var dsts []string
	for _, f := range specs[DaemonImage].Layers[0].Files {
		dsts = append(dsts, f.Dst)
	}
	got := strings.Join(dsts, " ")
	if !strings.Contains(got, DaemonBinDir+"/cni-fault") || strings.Contains(got, "passthru") {
		t.Fatalf("daemon image files = %s, want cni-fault and no passthru", got)
	}
	if specs[TestPodImage].Layers[0].Symlinks["/bin/wget"] != "busybox" {
		t.Fatalf("test pod image lacks the wget applet: %v", specs[TestPodImage].Layers[0].Symlinks)
	}
}

// Build writes real docker archives; their IDs are what containerd will
// report, and they change when a binary does.
func TestBuildIDsFollowContent(t *testing.T) {
	in := fakeInputs(t, "multus-daemon", "multus-shim", "install-multus")
	first, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 3 {
		t.Fatalf("built %d images, want 3", len(first))
	}
	ids := map[string]string{}
	for _, img := range first {
		if !strings.HasPrefix(img.ID, "sha256:") {
			t.Fatalf("%s id = %q", img.Ref, img.ID)
		}
		ids[img.Ref] = img.ID
	}
	if err := os.WriteFile(filepath.Join(in.BinDir, "multus-daemon"), []byte("changed"), 0o755); err != nil {
		t.Fatal(err)
	}
	second, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range second {
		changed := ids[img.Ref] != img.ID
		if changed != (img.Ref == DaemonImage) {
			t.Errorf("%s: id changed = %v after changing multus-daemon only", img.Ref, changed)
		}
	}
}
