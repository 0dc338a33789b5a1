package bake

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/multus-thick/multus-thick/lab/internal/gobuild"
	"github.com/multus-thick/multus-thick/lab/internal/image"
	"github.com/multus-thick/multus-thick/lab/internal/run"
)

// SandboxImage is the pause tag kind's containerd config names (sandbox_image); kubeadm
// expects another tag of the same image, so pause is written under both.
const SandboxImage = "registry.k8s.io/pause:3.10"

// KubeadmImages is what `kubeadm config images list` names, by component.
type KubeadmImages struct {
	APIServer, ControllerManager, Scheduler, Proxy, Etcd, CoreDNS, Pause string
}

// ParseKubeadmImages reads `kubeadm config images list` output.
func ParseKubeadmImages(out string) (KubeadmImages, error) {
	var k KubeadmImages
	slots := map[string]*string{
		"kube-apiserver": &k.APIServer, "kube-controller-manager": &k.ControllerManager,
		"kube-scheduler": &k.Scheduler, "kube-proxy": &k.Proxy, "etcd": &k.Etcd, "coredns": &k.CoreDNS, "pause": &k.Pause,
	}
	for line := range strings.SplitSeq(out, "\n") {
		ref := strings.TrimSpace(line)
		if ref == "" {
			continue
		}
		repo, _, ok := strings.Cut(ref[strings.LastIndex(ref, "/")+1:], ":")
		if !ok {
			return k, fmt.Errorf("image %q has no tag", ref)
		}
		if slot, known := slots[repo]; known {
			*slot = ref
		}
	}
	for name, slot := range slots {
		if *slot == "" {
			return k, fmt.Errorf("kubeadm named no %s image", name)
		}
	}
	return k, nil
}

// Tag returns the tag part of an image reference.
func Tag(ref string) string { return ref[strings.LastIndex(ref, ":")+1:] }

// EtcdModuleVersion maps kubeadm's etcd tag (3.7.0-0) to the module version (v3.7.0).
func EtcdModuleVersion(tag string) string {
	v, _, _ := strings.Cut(tag, "-")
	return "v" + v
}

func kubeadmImages(ctx context.Context, o Options, binDir string) (KubeadmImages, error) {
	var imgs KubeadmImages
	err := o.Progress.Do(ctx, "kubeadm image list", func(ctx context.Context, log io.Writer) error {
		out, err := run.Runner{Log: log, Env: o.Env}.Output(ctx, filepath.Join(binDir, "kubeadm"),
			"config", "images", "list", "--kubernetes-version", o.K8sVersion)
		if err != nil {
			return err
		}
		fmt.Fprintf(log, "%s", out)
		imgs, err = ParseKubeadmImages(string(out))
		return err
	})
	return imgs, err
}

func (o Options) imagesDir() string { return o.dir("images") }

// imageSpecs are the control-plane images, each a static binary (plus, for kube-proxy, the
// iptables layer) with the entrypoint upstream's images have.
func imageSpecs(o Options, k KubeadmImages, binDir string) map[string]image.Spec {
	bin := func(ref, src, dst string, extra ...image.Layer) image.Spec {
		layers := append(extra, image.Layer{Files: []image.File{{Src: src, Dst: dst, Mode: 0o755}}})
		return image.Spec{Ref: ref, Layers: layers, Config: image.Config{Entrypoint: []string{dst}}}
	}
	k8s := func(name string) string { return filepath.Join(binDir, name) }
	pause := func(ref string) image.Spec { return bin(ref, o.pausePath(), "/pause") }
	return map[string]image.Spec{
		"kube-apiserver.tar":          bin(k.APIServer, k8s("kube-apiserver"), "/usr/local/bin/kube-apiserver"),
		"kube-controller-manager.tar": bin(k.ControllerManager, k8s("kube-controller-manager"), "/usr/local/bin/kube-controller-manager"),
		"kube-scheduler.tar":          bin(k.Scheduler, k8s("kube-scheduler"), "/usr/local/bin/kube-scheduler"),
		"kube-proxy.tar":              bin(k.Proxy, k8s("kube-proxy"), "/usr/local/bin/kube-proxy", image.Layer{Tarball: o.IptablesLayer()}),
		"etcd.tar":                    bin(k.Etcd, etcdPath(o, EtcdModuleVersion(Tag(k.Etcd))), "/usr/local/bin/etcd"),
		"coredns.tar":                 bin(k.CoreDNS, corednsPath(o, Tag(k.CoreDNS)), "/coredns"),
		"pause.tar":                   pause(k.Pause),
		"pause-sandbox.tar":           pause(SandboxImage),
	}
}

func ensureImages(ctx context.Context, o Options, specs map[string]image.Spec) error {
	var missing []string
	for file := range specs {
		if !gobuild.Exists(filepath.Join(o.imagesDir(), file)) {
			missing = append(missing, file)
		}
	}
	if len(missing) == 0 {
		o.Progress.Cached("control-plane images", o.imagesDir())
		return nil
	}
	return o.Progress.Do(ctx, "control-plane images", func(ctx context.Context, log io.Writer) error {
		if err := os.MkdirAll(o.imagesDir(), 0o755); err != nil {
			return err
		}
		for _, file := range missing {
			spec := specs[file]
			fmt.Fprintf(log, "writing %s as %s\n", spec.Ref, file)
			if err := image.Write(spec, filepath.Join(o.imagesDir(), file)); err != nil {
				return err
			}
		}
		return nil
	})
}
