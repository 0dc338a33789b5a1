// Package labimages builds the images the lab runs besides the node image:
// our daemon image, the test pod image and the flannel image. Each is a
// docker-archive tarball built from local files (package image), so nothing
// is ever pulled; the node loads them with ctr.
package labimages

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/multus-thick/multus-thick/lab/internal/addons"
	"github.com/multus-thick/multus-thick/lab/internal/cluster"
	"github.com/multus-thick/multus-thick/lab/internal/image"
)

// Tags kubelet asks for. DaemonImage must match deployments/kustomization.yaml.
const (
	DaemonImage  = "localhost/multus-thick:lab"
	TestPodImage = "localhost/mt-testpod:lab"
	FlannelImage = addons.FlannelImage
	// DRAPluginImage is the DRA test driver's (deployments/dra/), built
	// only when named: it is a test fixture, not one of the lab's three.
	DRAPluginImage = "localhost/mt-dra-plugin:lab"
)

// DaemonBinDir is where the daemon image keeps its binaries, as upstream's
// image does (the DaemonSet and the installer name these paths).
const DaemonBinDir = "/usr/src/multus-cni/bin"

// daemonBinaries are copied from bin/ when present. The required ones are
// what upstream's image holds and its DaemonSet runs: the daemon, and
// install_multus with what `-t thick` installs (multus-shim, passthru).
// The rest are optional lab tools.
var (
	daemonRequired = []string{"multus-daemon", "multus-shim", "install_multus", "passthru"}
	daemonOptional = []string{"cni-fault", "cert-approver"}
)

// daemonAliases are extra names in DaemonBinDir: install-multus is the name
// our DaemonSet used before the installer took upstream's.
var daemonAliases = map[string]string{DaemonBinDir + "/install-multus": "install_multus"}

// TestPodApplets are the busybox applets the test pod image links; the
// scenarios use them inside pods (addresses, reachability, a long sleep).
var TestPodApplets = []string{"sh", "ip", "ping", "sleep", "nc", "wget", "cat", "ls", "ps", "env", "echo", "hostname"}

// Inputs are the host files the images are made of.
type Inputs struct {
	BinDir   string // the repo's bin/ after `make build`
	Busybox  string // Debian's busybox-static, /bin/busybox
	Flanneld string // from bake.EnsureFlanneld
	OutDir   string // where the tarballs go
}

// Specs returns the specs of the images refs name (all three when refs is
// empty). Missing inputs are errors that name the file and how to get it.
func Specs(in Inputs, refs ...string) (map[string]image.Spec, error) {
	if len(refs) == 0 {
		refs = []string{DaemonImage, TestPodImage, FlannelImage}
	}
	out := map[string]image.Spec{}
	for _, ref := range refs {
		var (
			spec image.Spec
			err  error
		)
		switch ref {
		case DaemonImage:
			spec, err = daemonSpec(in)
		case TestPodImage, FlannelImage:
			spec, err = supportSpec(in, ref)
		case DRAPluginImage:
			spec, err = draPluginSpec(in)
		default:
			err = fmt.Errorf("unknown lab image %q", ref)
		}
		if err != nil {
			return nil, err
		}
		out[ref] = spec
	}
	return out, nil
}

func daemonSpec(in Inputs) (image.Spec, error) {
	var bins []image.File
	for _, b := range slices.Concat(daemonRequired, daemonOptional) {
		src := filepath.Join(in.BinDir, b)
		if _, err := os.Stat(src); err != nil {
			if slices.Contains(daemonRequired, b) {
				return image.Spec{}, fmt.Errorf("daemon image needs %s (run make build): %w", src, err)
			}
			continue
		}
		bins = append(bins, image.File{Src: src, Dst: DaemonBinDir + "/" + b, Mode: 0o755})
	}
	return image.Spec{
		Ref:    DaemonImage,
		Layers: []image.Layer{{Files: bins, Symlinks: daemonSymlinks()}},
		Config: image.Config{Entrypoint: []string{DaemonBinDir + "/multus-daemon"}},
	}, nil
}

// daemonSymlinks are the daemon image's links: the aliases, and /var/run.
func daemonSymlinks() map[string]string {
	// CNI_NETNS is /var/run/netns/... on the node; the daemon opens it itself.
	links := map[string]string{"/var/run": "../run"}
	maps.Copy(links, daemonAliases)
	return links
}

// draPluginSpec is one static binary, nothing else.
func draPluginSpec(in Inputs) (image.Spec, error) {
	src := filepath.Join(in.BinDir, "mt-dra-plugin")
	if _, err := os.Stat(src); err != nil {
		return image.Spec{}, fmt.Errorf("image %s needs %s (run make build): %w", DRAPluginImage, src, err)
	}
	return image.Spec{
		Ref:    DRAPluginImage,
		Layers: []image.Layer{{Files: []image.File{{Src: src, Dst: "/mt-dra-plugin", Mode: 0o755}}}},
		Config: image.Config{Entrypoint: []string{"/mt-dra-plugin"}},
	}, nil
}

func supportSpec(in Inputs, ref string) (image.Spec, error) {
	need := []struct{ path, why string }{{in.Busybox, "apt-get install busybox-static"}}
	if ref == FlannelImage {
		need = append(need, struct{ path, why string }{in.Flanneld, "go run ./lab/cmd/lab flanneld"})
	}
	for _, f := range need {
		if _, err := os.Stat(f.path); err != nil {
			return image.Spec{}, fmt.Errorf("image %s needs %s (%s): %w", ref, f.path, f.why, err)
		}
	}
	busybox := image.File{Src: in.Busybox, Dst: "/bin/busybox", Mode: 0o755}
	if ref == TestPodImage {
		return image.Spec{
			Ref:    TestPodImage,
			Layers: []image.Layer{{Files: []image.File{busybox}, Symlinks: applets(TestPodApplets)}},
			Config: image.Config{Cmd: []string{"/bin/sleep", "2147483647"}},
		}, nil
	}
	return image.Spec{
		Ref: FlannelImage,
		Layers: []image.Layer{{
			Files:    []image.File{{Src: in.Flanneld, Dst: "/opt/bin/flanneld", Mode: 0o755}, busybox},
			Symlinks: applets([]string{"sh", "cp", "mv"}),
		}},
		Config: image.Config{Entrypoint: []string{"/opt/bin/flanneld"}},
	}, nil
}

func applets(names []string) map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		m["/bin/"+n] = "busybox"
	}
	return m
}

// Build writes the images refs name (all when empty) as tarballs under
// in.OutDir and returns them in a stable order with their image IDs.
func Build(in Inputs, refs ...string) ([]cluster.Image, error) {
	specs, err := Specs(in, refs...)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(in.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("image dir: %w", err)
	}
	refs = make([]string, 0, len(specs))
	for ref := range specs {
		refs = append(refs, ref)
	}
	slices.Sort(refs)
	out := make([]cluster.Image, 0, len(refs))
	for _, ref := range refs {
		path := filepath.Join(in.OutDir, fileName(ref))
		if err := image.Write(specs[ref], path); err != nil {
			return nil, err
		}
		id, err := ConfigID(path, ref)
		if err != nil {
			return nil, err
		}
		out = append(out, cluster.Image{Tarball: path, Ref: ref, ID: id})
	}
	return out, nil
}

// ConfigID returns the config digest of ref in a docker archive: the image
// ID the node's containerd reports.
func ConfigID(archive, ref string) (string, error) {
	tag, err := name.NewTag(ref)
	if err != nil {
		return "", fmt.Errorf("image ref %q: %w", ref, err)
	}
	img, err := tarball.ImageFromPath(archive, &tag)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", archive, err)
	}
	h, err := img.ConfigName()
	if err != nil {
		return "", fmt.Errorf("config digest of %s: %w", ref, err)
	}
	return h.String(), nil
}

func fileName(ref string) string {
	b := []byte(ref)
	for i, c := range b {
		if c == '/' || c == ':' {
			b[i] = '_'
		}
	}
	return string(b) + ".tar"
}
