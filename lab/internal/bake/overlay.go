package bake

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// overlayEntry is one file of what is copied over the base image.
type overlayEntry struct {
	path string // absolute, in the node
	src  string // host file, or
	data []byte // literal content, or
	link string // symlink target, or
	dir  bool
	mode int64
}

const (
	defaultCNIManifest = `# multus-thick node image: kind's default CNI (kindnet) is not baked in.
# The lab disables kind's default CNI and installs flannel itself. This ConfigMap only
# exists so that a cluster created without disableDefaultCNI fails visibly without a network
# instead of pulling an image.
apiVersion: v1
kind: ConfigMap
metadata:
  name: kind-default-cni-placeholder
  namespace: kube-system
data:
  note: "no default CNI in this node image; set networking.disableDefaultCNI and install one"
`
	defaultStorageManifest = `# multus-thick node image: a StorageClass without a provisioner stands in for kind's
# local-path provisioner, whose image cannot be pulled offline.
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
`
)

// PatchContainerdConfig makes kind's containerd config fit our hosts: restrict_oom_score_adj
// on, because the node's bounding set lacks CAP_SYS_RESOURCE and kubelet's oom_score_adj of
// -998 for sandboxes would fail ("can't get final child's PID from pipe: EOF"); kind's
// entrypoint does the same for rootless nodes.
func PatchContainerdConfig(cfg string) (string, error) {
	const off, on = "restrict_oom_score_adj = false", "restrict_oom_score_adj = true"
	if strings.Contains(cfg, on) {
		return cfg, nil
	}
	if !strings.Contains(cfg, off) {
		return "", fmt.Errorf("containerd config has no %q to turn on", off)
	}
	if !strings.Contains(cfg, `sandbox_image = "`+SandboxImage+`"`) {
		return "", fmt.Errorf("containerd config's sandbox_image is not %s", SandboxImage)
	}
	return strings.Replace(cfg, off, on, 1), nil
}

// overlay lists what goes over the rootfs: kind's base files (modes as kind's Dockerfile sets
// them), the service links `systemctl enable` would make, Kubernetes' node binaries, crictl,
// the node CNI plugins and kind's /kind metadata.
func overlay(o Options, kindFiles, binDir string) ([]overlayEntry, error) {
	var entries []overlayEntry
	err := filepath.WalkDir(kindFiles, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(kindFiles, p)
		if rel == "." {
			return nil
		}
		dst := "/" + filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			entries = append(entries, overlayEntry{path: dst, dir: true, mode: 0o755})
		case strings.HasPrefix(dst, "/usr/local/bin/") || strings.HasPrefix(dst, "/kind/bin/"):
			entries = append(entries, overlayEntry{path: dst, src: p, mode: 0o755})
		case dst == "/etc/containerd/config.toml":
			raw, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			patched, err := PatchContainerdConfig(string(raw))
			if err != nil {
				return err
			}
			entries = append(entries, overlayEntry{path: dst, data: []byte(patched), mode: 0o644})
		default:
			entries = append(entries, overlayEntry{path: dst, src: p, mode: 0o644})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kind base files: %w", err)
	}
	for _, svc := range []string{"kubelet", "containerd", "undo-mount-hacks"} {
		entries = append(entries, overlayEntry{
			path: "/etc/systemd/system/multi-user.target.wants/" + svc + ".service",
			link: "/etc/systemd/system/" + svc + ".service",
		})
	}
	entries = append(entries,
		overlayEntry{path: "/etc/systemd/system/systemd-binfmt.service", link: "/dev/null"},
		// kind's containerd unit runs /usr/local/bin/containerd; Debian's lives in /usr/bin.
		overlayEntry{path: "/usr/local/bin/containerd", link: "/usr/bin/containerd"},
		overlayEntry{path: "/usr/local/bin/crictl", src: o.crictlPath(), mode: 0o755},
		overlayEntry{path: "/kind/version", data: []byte(o.K8sVersion + "\n"), mode: 0o644},
		overlayEntry{path: "/kind/manifests/default-cni.yaml", data: []byte(defaultCNIManifest), mode: 0o644},
		overlayEntry{path: "/kind/manifests/default-storage.yaml", data: []byte(defaultStorageManifest), mode: 0o644},
		overlayEntry{path: "/etc/kubernetes/manifests", dir: true, mode: 0o755},
		overlayEntry{path: "/opt/cni/bin", dir: true, mode: 0o755},
	)
	for _, b := range []string{"kubeadm", "kubelet", "kubectl"} {
		entries = append(entries, overlayEntry{path: "/usr/bin/" + b, src: filepath.Join(binDir, b), mode: 0o755})
	}
	for _, p := range nodeCNIPlugins {
		name := path.Base(p)
		entries = append(entries, overlayEntry{path: "/opt/cni/bin/" + name, src: filepath.Join(o.cniDir(), name), mode: 0o755})
	}
	return entries, nil
}

// writeOverlay streams entries as a tar (for `docker cp - <container>:/`).
func writeOverlay(w io.Writer, entries []overlayEntry) error {
	tw := tar.NewWriter(w)
	now := time.Now()
	for _, e := range entries {
		hdr := &tar.Header{Name: strings.TrimPrefix(e.path, "/"), Mode: e.mode, ModTime: now, Format: tar.FormatPAX}
		var body io.Reader
		switch {
		case e.dir:
			hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
		case e.link != "":
			hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, e.link, 0o777
		case e.src != "":
			f, err := os.Open(e.src)
			if err != nil {
				return err
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Size, body = tar.TypeReg, st.Size(), f
		default:
			hdr.Typeflag, hdr.Size, body = tar.TypeReg, int64(len(e.data)), strings.NewReader(string(e.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if body != nil {
			if _, err := io.Copy(tw, body); err != nil {
				return fmt.Errorf("overlay %s: %w", e.path, err)
			}
		}
	}
	return tw.Close()
}
