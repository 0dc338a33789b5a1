package bake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/multus-thick/multus-thick/lab/internal/atomicfile"
	"github.com/multus-thick/multus-thick/lab/internal/gobuild"
	"github.com/multus-thick/multus-thick/lab/internal/run"
)

// goTool builds one pinned Go command into the tools cache as a progress step.
func goTool(ctx context.Context, o Options, label string, req gobuild.Request) error {
	done := true
	for _, out := range req.Outputs {
		done = done && gobuild.Exists(out)
	}
	if done {
		o.Progress.Cached(label, filepath.Dir(firstValue(req.Outputs)))
		return nil
	}
	return o.Progress.Do(ctx, label, func(ctx context.Context, log io.Writer) error {
		return gobuild.Build(ctx, run.Runner{Log: log, Env: o.Env}, req)
	})
}

func firstValue(m map[string]string) string {
	for _, v := range m {
		return v
	}
	return ""
}

func (o Options) crictlPath() string {
	return filepath.Join(o.toolDir("crictl", o.CrictlVersion), "crictl")
}

func ensureCrictl(ctx context.Context, o Options) error {
	return goTool(ctx, o, "crictl "+o.CrictlVersion, gobuild.Request{
		Name: "src", WorkDir: o.toolDir("crictl", o.CrictlVersion),
		Requires: map[string]string{"sigs.k8s.io/cri-tools": o.CrictlVersion},
		Outputs:  map[string]string{"sigs.k8s.io/cri-tools/cmd/crictl": o.crictlPath()},
		LDFlags:  "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=" + o.CrictlVersion,
	})
}

func etcdPath(o Options, v string) string { return filepath.Join(o.toolDir("etcd", v), "etcd") }

// ensureEtcd builds etcd (server main package, which calls etcdmain) at module version v.
func ensureEtcd(ctx context.Context, o Options, v string) error {
	return goTool(ctx, o, "etcd "+v, gobuild.Request{
		Name: "src", WorkDir: o.toolDir("etcd", v),
		Requires: map[string]string{"go.etcd.io/etcd/server/v3": v},
		Outputs:  map[string]string{"go.etcd.io/etcd/server/v3": etcdPath(o, v)},
		LDFlags:  "-s -w",
	})
}

func corednsPath(o Options, v string) string {
	return filepath.Join(o.toolDir("coredns", v), "coredns")
}

func ensureCoreDNS(ctx context.Context, o Options, v string) error {
	return goTool(ctx, o, "coredns "+v, gobuild.Request{
		Name: "src", WorkDir: o.toolDir("coredns", v),
		Requires: map[string]string{"github.com/coredns/coredns": v},
		Outputs:  map[string]string{"github.com/coredns/coredns": corednsPath(o, v)},
		LDFlags:  "-s -w",
	})
}

// nodeCNIPlugins are what kind's base image puts in /opt/cni/bin; containerd needs loopback
// for every pod sandbox even before a cluster network exists.
var nodeCNIPlugins = []string{"main/loopback", "main/ptp", "ipam/host-local", "meta/portmap"}

func (o Options) cniDir() string {
	return filepath.Join(o.toolDir("cni-plugins", o.CNIPluginsVersion), "bin")
}

func ensureCNIPlugins(ctx context.Context, o Options) error {
	outs := map[string]string{}
	for _, p := range nodeCNIPlugins {
		outs["github.com/containernetworking/plugins/plugins/"+p] = filepath.Join(o.cniDir(), filepath.Base(p))
	}
	return goTool(ctx, o, "cni plugins "+o.CNIPluginsVersion, gobuild.Request{
		Name: "src", WorkDir: o.toolDir("cni-plugins", o.CNIPluginsVersion),
		Requires: map[string]string{"github.com/containernetworking/plugins": o.CNIPluginsVersion},
		Outputs:  outs, LDFlags: "-s -w",
	})
}

func (o Options) pausePath() string { return o.dir("bin", "pause") }

// ensurePause compiles pause from the C source in the kubernetes module, statically.
func ensurePause(ctx context.Context, o Options, version string) error {
	if gobuild.Exists(o.pausePath()) {
		o.Progress.Cached("pause "+version, o.pausePath())
		return nil
	}
	return o.Progress.Do(ctx, "pause "+version, func(ctx context.Context, log io.Writer) error {
		r := run.Runner{Log: log, Env: o.Env}
		dir, _, err := gobuild.ModuleDir(ctx, r, "k8s.io/kubernetes", o.K8sVersion)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(o.pausePath()), 0o755); err != nil {
			return err
		}
		// Durable: pause counts as built because it exists.
		return atomicfile.Replace(o.pausePath(), atomicfile.Durable, func(tmp string) error {
			return r.Run(ctx, "cc", "-Os", "-Wall", "-Werror", "-static", "-s", "-DVERSION=v"+version,
				"-o", tmp, filepath.Join(dir, "build/pause/linux/pause.c"))
		})
	})
}

// FlanneldPath is where EnsureFlanneld puts flanneld.
func (o Options) FlanneldPath() string {
	return filepath.Join(o.toolDir("flanneld", o.FlannelVersion), "flanneld")
}

// flannelDropped are backends whose imports break an offline, cgo-free build: tencentvpc's SDK
// module is refused by the proxy, udp needs cgo, ipsec pulls in strongswan bindings we never use.
var flannelDropped = []string{"tencentvpc", "ipsec", "udp"}

// EnsureFlanneld builds flanneld (vxlan, host-gw, ipip, wireguard backends) and returns its path.
// flannel's main package is copied into a throwaway module with the dropped backends' imports
// removed; nothing of flannel's is kept in this repository.
func EnsureFlanneld(ctx context.Context, o Options) (string, error) {
	out := o.FlanneldPath()
	if gobuild.Exists(out) {
		o.Progress.Cached("flanneld "+o.FlannelVersion, out)
		return out, nil
	}
	err := o.Progress.Do(ctx, "flanneld "+o.FlannelVersion, func(ctx context.Context, log io.Writer) error {
		r := run.Runner{Log: log, Env: o.Env}
		dir, _, err := gobuild.ModuleDir(ctx, r, "github.com/flannel-io/flannel", o.FlannelVersion)
		if err != nil {
			return err
		}
		files, err := flannelMain(dir)
		if err != nil {
			return err
		}
		ver := "github.com/flannel-io/flannel/pkg/version.Version=" + o.FlannelVersion
		return gobuild.Build(ctx, r, gobuild.Request{
			Name: "src", WorkDir: o.toolDir("flanneld", o.FlannelVersion),
			Requires: map[string]string{"github.com/flannel-io/flannel": o.FlannelVersion},
			Files:    files,
			Outputs:  map[string]string{".": out},
			LDFlags:  "-s -w -X " + ver,
		})
	})
	return out, err
}

// flannelMain reads flannel's main package (non-test files) with the dropped imports removed.
func flannelMain(dir string) (map[string][]byte, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	found := map[string]bool{}
	for _, m := range matches {
		if strings.HasSuffix(m, "_test.go") {
			continue
		}
		src, err := os.ReadFile(m)
		if err != nil {
			return nil, err
		}
		edited, removed, err := DropImports(src, "github.com/flannel-io/flannel/pkg/backend/", flannelDropped)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(m), err)
		}
		for _, n := range removed {
			found[n] = true
		}
		files[filepath.Base(m)] = edited
	}
	// A renamed or moved backend must fail loudly, not silently bring the refused module back.
	for _, n := range flannelDropped {
		if !found[n] {
			return nil, fmt.Errorf("flannel's main package no longer imports backend %q; update flannelDropped", n)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no main package in %s", dir)
	}
	return files, nil
}

// DropImports removes blank imports `_ "<prefix><name>"` for each name from Go source and
// says which it removed. A non-blank import of one of them is an error: its uses would remain.
func DropImports(src []byte, prefix string, names []string) (out []byte, removed []string, err error) {
	out = src
	for _, n := range names {
		re := regexp.MustCompile(`(?m)^[ \t]*_[ \t]+"` + regexp.QuoteMeta(prefix+n) + `"[ \t]*\n`)
		if !re.Match(out) {
			if bytes.Contains(out, []byte(`"`+prefix+n+`"`)) {
				return nil, nil, fmt.Errorf("import %s%s is not a blank import", prefix, n)
			}
			continue // this file does not import it
		}
		out = re.ReplaceAll(out, nil)
		removed = append(removed, n)
	}
	return out, removed, nil
}
