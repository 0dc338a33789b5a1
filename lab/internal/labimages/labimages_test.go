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
	all := []string{"multus-daemon", "multus-shim", "install_multus", "passthru"}
	for _, missing := range all {
		t.Run(missing, func(t *testing.T) {
			var bins []string
			for _, b := range all {
				if b != missing {
					bins = append(bins, b)
				}
			}
			_, err := Specs(fakeInputs(t, bins...))
			if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "make build") {
				t.Fatalf("err = %v, want one naming %s and make build", err, missing)
			}
		})
	}
}

// Upstream's DaemonSet runs /usr/src/multus-cni/bin/install_multus -t thick,
// which installs multus-shim and passthru from the same directory; our
// earlier name stays as a link.
func TestDaemonImageHasUpstreamPaths(t *testing.T) {
	specs, err := Specs(fakeInputs(t, "multus-daemon", "multus-shim", "install_multus", "passthru"), DaemonImage)
	if err != nil {
		t.Fatal(err)
	}
	l := specs[DaemonImage].Layers[0]
	have := map[string]bool{}
	for _, f := range l.Files {
		have[f.Dst] = true
	}
	for _, p := range []string{"multus-daemon", "multus-shim", "install_multus", "passthru"} {
		if !have["/usr/src/multus-cni/bin/"+p] {
			t.Errorf("daemon image lacks /usr/src/multus-cni/bin/%s: %v", p, have)
		}
	}
	if got := l.Symlinks["/usr/src/multus-cni/bin/install-multus"]; got != "install_multus" {
		t.Errorf("install-multus links to %q, want install_multus", got)
	}
	if got := specs[DaemonImage].Config.Entrypoint; len(got) != 1 || got[0] != "/usr/src/multus-cni/bin/multus-daemon" {
		t.Errorf("entrypoint = %v, want upstream's multus-daemon", got)
	}
}

func TestSpecsOptionalToolsOnlyWhenBuilt(t *testing.T) {
	in := fakeInputs(t, "multus-daemon", "multus-shim", "install_multus", "passthru", "cni-fault")
	specs, err := Specs(in)
	if err != nil {
		t.Fatal(err)
	}
	var dsts []string
	for _, f := range specs[DaemonImage].Layers[0].Files {
		dsts = append(dsts, f.Dst)
	}
	got := strings.Join(dsts, " ")
	if !strings.Contains(got, DaemonBinDir+"/cni-fault") {
		t.Fatalf("daemon image files = %s, want cni-fault", got)
	}
	in = fakeInputs(t, "multus-daemon", "multus-shim", "install_multus", "passthru")
	if specs, err = Specs(in); err != nil {
		t.Fatal(err)
	}
	for _, f := range specs[DaemonImage].Layers[0].Files {
		if strings.HasSuffix(f.Dst, "/cni-fault") {
			t.Fatalf("daemon image has %s although bin/ has no cni-fault", f.Dst)
		}
	}
	if specs[TestPodImage].Layers[0].Symlinks["/bin/wget"] != "busybox" {
		t.Fatalf("test pod image lacks the wget applet: %v", specs[TestPodImage].Layers[0].Symlinks)
	}
}

// Build writes real docker archives; their IDs are what containerd will
// report, and they change when a binary does.
func TestBuildIDsFollowContent(t *testing.T) {
	in := fakeInputs(t, "multus-daemon", "multus-shim", "install_multus", "passthru")
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

// The DRA test driver's image is its one binary, built only when asked
// for; cert-approver rides in the daemon's image once built, beside the
// others (deployments/per-node-certificate runs it from there).
func TestDRAPluginImageAndCertApprover(t *testing.T) {
	in := fakeInputs(t, "multus-daemon", "multus-shim", "install_multus", "passthru", "cert-approver")
	if _, err := Specs(in, DRAPluginImage); err == nil || !strings.Contains(err.Error(), "mt-dra-plugin") || !strings.Contains(err.Error(), "make build") {
		t.Fatalf("err = %v, want one naming mt-dra-plugin and make build", err)
	}
	in = fakeInputs(t, "multus-daemon", "multus-shim", "install_multus", "passthru", "cert-approver", "mt-dra-plugin")
	specs, err := Specs(in, DaemonImage, DRAPluginImage)
	if err != nil {
		t.Fatal(err)
	}
	dra := specs[DRAPluginImage]
	if f := dra.Layers[0].Files; len(f) != 1 || f[0].Dst != "/mt-dra-plugin" || len(dra.Config.Entrypoint) != 1 || dra.Config.Entrypoint[0] != "/mt-dra-plugin" {
		t.Fatalf("DRA plugin image = %+v", dra)
	}
	found := false
	for _, f := range specs[DaemonImage].Layers[0].Files {
		found = found || f.Dst == DaemonBinDir+"/cert-approver"
	}
	if !found {
		t.Fatalf("daemon image lacks %s/cert-approver", DaemonBinDir)
	}
	if all, err := Specs(in); err != nil || len(all) != 3 {
		t.Fatalf("default specs = %d images (%v), want the three without the DRA plugin", len(all), err)
	}
}
