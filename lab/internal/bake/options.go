package bake

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/multus-thick/multus-thick/lab/internal/host"
	"github.com/multus-thick/multus-thick/lab/internal/pins"
	"github.com/multus-thick/multus-thick/lab/internal/step"
)

// Options pin every version the node image is made of. Start from DefaultOptions.
type Options struct {
	CacheDir          string // e.g. /var/cache/multus-thick
	K8sVersion        string // v1.37.2
	KindVersion       string // v0.33.0: kind's base files come from this module
	CrictlVersion     string // sigs.k8s.io/cri-tools
	CNIPluginsVersion string // loopback, host-local, ptp, portmap in /opt/cni/bin
	FlannelVersion    string // github.com/flannel-io/flannel, for EnsureFlanneld
	Suite             string // Debian suite for debootstrap
	Mirror            string // Debian mirror for debootstrap (see MirrorFromAptSources)
	// Revision changes whenever the recipe changes, so an old cached image is not reused.
	Revision string
	// Packages are installed into the rootfs (besides debootstrap's minbase).
	Packages []string

	Progress *step.Reporter
	Log      *slog.Logger
	Env      []string // for go, debootstrap, docker; nil inherits
	Guard    host.GuardOptions
}

// DefaultPackages are what kind's base image installs, minus what needs a network at run
// time (nfs, iscsi) and fuse-overlayfs (rootless only), plus containerd and runc from Debian.
var DefaultPackages = []string{
	"systemd", "dbus",
	"conntrack", "iptables", "nftables", "iproute2", "ethtool", "util-linux", "mount", "kmod", "socat",
	"libseccomp2", "pigz", "e2fsprogs", "bash", "ca-certificates", "jq", "procps",
	"containerd", "runc",
}

// DefaultOptions are the lab's pinned versions (lab/internal/pins).
func DefaultOptions(cacheDir string) Options {
	return Options{
		CacheDir:          cacheDir,
		K8sVersion:        pins.K8s,
		KindVersion:       pins.Kind,
		CrictlVersion:     pins.Crictl,
		CNIPluginsVersion: pins.CNIPlugins,
		FlannelVersion:    pins.Flannel,
		Suite:             "bookworm",
		Revision:          "mt1",
		Packages:          DefaultPackages,
		Guard:             host.DefaultGuardOptions(),
	}
}

// ImageTag is the node image EnsureNodeImage produces: it names every pinned input.
func (o Options) ImageTag() string {
	return fmt.Sprintf("multus-thick/node:%s-%s", o.K8sVersion, o.Revision)
}

func (o Options) baseTag() string {
	return fmt.Sprintf("multus-thick/node-base:%s-%s", o.Suite, o.Revision)
}

// dir is the cache directory of this recipe.
func (o Options) dir(parts ...string) string {
	return filepath.Join(append([]string{o.CacheDir, "node-" + o.K8sVersion + "-" + o.Revision}, parts...)...)
}

// toolDir holds binaries whose version does not depend on Kubernetes'.
func (o Options) toolDir(name, version string) string {
	return filepath.Join(o.CacheDir, "tools", name+"-"+version)
}

func (o Options) rootfsTar() string {
	return filepath.Join(o.CacheDir, "rootfs-"+o.Suite+"-"+o.Revision, "rootfs.tar")
}

// IptablesLayer is the tarball (iptables, nft, conntrack and their libraries from the node's
// rootfs) that images running iptables need: kube-proxy here, flannel in the lab.
func (o Options) IptablesLayer() string {
	return filepath.Join(o.CacheDir, "rootfs-"+o.Suite+"-"+o.Revision, "iptables-layer.tar")
}

// MirrorFromAptSources returns the first Debian URI of the host's deb822 apt sources, so the
// rootfs comes from wherever the host's own packages come from.
func MirrorFromAptSources(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return parseMirror(string(data))
}

func parseMirror(sources string) (string, error) {
	for line := range strings.SplitSeq(sources, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "URIs:"); ok {
			for _, uri := range strings.Fields(v) {
				if !strings.Contains(uri, "security") {
					return uri, nil
				}
			}
		}
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "deb" && !strings.Contains(f[1], "security") {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("no Debian mirror in apt sources")
}
