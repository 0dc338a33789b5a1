package bake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/multus-thick/multus-thick/lab/internal/atomicfile"
	"github.com/multus-thick/multus-thick/lab/internal/gobuild"
	"github.com/multus-thick/multus-thick/lab/internal/run"
)

// iptablesTools are the programs the iptables layer carries, with every library they load.
var iptablesTools = []string{
	"/usr/sbin/xtables-nft-multi", "/usr/sbin/xtables-legacy-multi", "/usr/sbin/nft", "/usr/sbin/conntrack",
}

// ensureRootfs makes the rootfs tarball with debootstrap, configured as kind's base image is.
func ensureRootfs(ctx context.Context, o Options) error {
	if gobuild.Exists(o.rootfsTar()) {
		o.Progress.Cached("debian "+o.Suite+" rootfs", o.rootfsTar())
		return nil
	}
	if o.Mirror == "" {
		return fmt.Errorf("no Debian mirror configured")
	}
	return o.Progress.Do(ctx, "debian "+o.Suite+" rootfs (debootstrap)", func(ctx context.Context, log io.Writer) error {
		r := run.Runner{Log: log, Env: o.Env}
		work := filepath.Join(filepath.Dir(o.rootfsTar()), "rootfs.tmp")
		if err := os.RemoveAll(work); err != nil {
			return err
		}
		defer os.RemoveAll(work)
		if err := r.Run(ctx, "debootstrap", "--variant=minbase", "--include="+strings.Join(o.Packages, ","),
			o.Suite, work, o.Mirror); err != nil {
			return fmt.Errorf("debootstrap: %w", err)
		}
		if err := configureRootfs(ctx, r, work); err != nil {
			return err
		}
		// Durable: the tarball counts as built because it exists.
		return atomicfile.Replace(o.rootfsTar(), atomicfile.Durable, func(tmp string) error {
			return r.Run(ctx, "tar", "-C", work, "--numeric-owner", "--xattrs", "-cf", tmp, ".")
		})
	})
}

// configureRootfs does what kind's base Dockerfile does after installing packages.
func configureRootfs(ctx context.Context, r run.Runner, root string) error {
	// Services a container must not start, and the wants kind clears (see kind's base Dockerfile).
	globs := []string{
		"lib/systemd/system/sysinit.target.wants/systemd-tmpfiles-setup.service",
		"lib/systemd/system/multi-user.target.wants/*",
		"etc/systemd/system/*.wants/*",
		"lib/systemd/system/local-fs.target.wants/*",
		"lib/systemd/system/sockets.target.wants/*udev*",
		"lib/systemd/system/sockets.target.wants/*initctl*",
		"lib/systemd/system/basic.target.wants/*",
		"usr/lib/systemd/system/multi-user.target.wants/*",
		"usr/lib/systemd/system/basic.target.wants/*",
		"usr/lib/systemd/system/local-fs.target.wants/*",
		"usr/lib/systemd/system/sockets.target.wants/*udev*",
		"usr/lib/systemd/system/sockets.target.wants/*initctl*",
		"usr/lib/systemd/system/sysinit.target.wants/systemd-tmpfiles-setup.service",
		// Debian's own containerd config would shadow nothing (kind's replaces it), but its
		// apt caches and the host's resolv.conf have no place in an image.
		"var/lib/apt/lists/*", "var/cache/apt/archives/*.deb", "etc/resolv.conf", "etc/hostname",
	}
	for _, g := range globs {
		matches, _ := filepath.Glob(filepath.Join(root, g))
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				return err
			}
		}
	}
	if err := appendFile(filepath.Join(root, "etc/systemd/journald.conf"), "ReadKMsg=no\n"); err != nil {
		return err
	}
	initPath := filepath.Join(root, "sbin/init")
	if _, err := os.Lstat(initPath); err != nil {
		if err := os.Symlink("/usr/lib/systemd/systemd", initPath); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "etc/kubernetes/manifests"), 0o755); err != nil {
		return err
	}
	spec, err := r.Output(ctx, "chroot", root, "ctr", "oci", "spec")
	if err != nil {
		return fmt.Errorf("ctr oci spec: %w", err)
	}
	base, err := CRIBaseSpec(spec)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, "etc/containerd/cri-base.json"), base, 0o644)
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// CRIBaseSpec turns `ctr oci spec` output into kind's /etc/containerd/cri-base.json: a
// createContainer hook that mounts the product files, and no rlimits (kind's base image does
// the same with jq).
func CRIBaseSpec(spec []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, fmt.Errorf("parse ctr oci spec: %w", err)
	}
	hooks, _ := doc["hooks"].(map[string]any)
	if hooks == nil {
		hooks = map[string]any{}
	}
	list, _ := hooks["createContainer"].([]any)
	hooks["createContainer"] = append(list, map[string]any{"path": "/kind/bin/mount-product-files.sh"})
	doc["hooks"] = hooks
	if proc, ok := doc["process"].(map[string]any); ok {
		delete(proc, "rlimits")
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// EnsureIptablesLayer makes IptablesLayer from the cached rootfs and returns its path.
func EnsureIptablesLayer(ctx context.Context, o Options) (string, error) {
	out := o.IptablesLayer()
	if gobuild.Exists(out) {
		o.Progress.Cached("iptables layer", out)
		return out, nil
	}
	if err := ensureRootfs(ctx, o); err != nil {
		return "", err
	}
	err := o.Progress.Do(ctx, "iptables layer", func(ctx context.Context, log io.Writer) error {
		r := run.Runner{Log: log, Env: o.Env}
		work := filepath.Join(filepath.Dir(out), "iptables.tmp")
		if err := os.RemoveAll(work); err != nil {
			return err
		}
		defer os.RemoveAll(work)
		if err := os.MkdirAll(work, 0o755); err != nil {
			return err
		}
		if err := r.Run(ctx, "tar", "-C", work, "--numeric-owner", "-xf", o.rootfsTar()); err != nil {
			return err
		}
		return writeIptablesLayer(ctx, r, work, out)
	})
	return out, err
}

// writeIptablesLayer tars iptablesTools, the symlinks that name them (iptables, ip6tables...
// through /etc/alternatives), the xtables modules and every shared library they need. Paths
// are stored where they really live (Debian merges /lib into /usr/lib), with the merge
// symlinks themselves, so relative library links still resolve in the image.
func writeIptablesLayer(ctx context.Context, r run.Runner, root, out string) error {
	var elfs []string
	names := append([]string(nil), iptablesTools...)
	modules, _ := filepath.Glob(filepath.Join(root, "usr/lib/*-linux-gnu/xtables/*.so"))
	for _, m := range modules {
		names = append(names, "/"+strings.TrimPrefix(m, root+"/"))
	}
	elfs = append(elfs, names...)
	for _, dir := range []string{"usr/sbin", "etc/alternatives"} {
		entries, _ := os.ReadDir(filepath.Join(root, dir))
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "ip") && strings.Contains(e.Name(), "tables") ||
				strings.HasPrefix(e.Name(), "ebtables") || strings.HasPrefix(e.Name(), "arptables") {
				names = append(names, "/"+dir+"/"+e.Name())
			}
		}
	}
	for _, elf := range elfs {
		lddOut, err := r.Output(ctx, "chroot", root, "ldd", elf)
		if err != nil {
			return fmt.Errorf("ldd %s: %w", elf, err)
		}
		names = append(names, ParseLdd(string(lddOut))...)
	}
	paths := map[string]bool{}
	for _, top := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		if fi, err := os.Lstat(filepath.Join(root, top)); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			paths[top] = true
		}
	}
	for _, n := range names {
		if err := addWithLinks(root, n, paths); err != nil {
			return err
		}
	}
	list := make([]string, 0, len(paths))
	for p := range paths {
		list = append(list, "."+p)
	}
	sort.Strings(list)
	r.Dir = root
	// Durable: the layer counts as built because it exists.
	return atomicfile.Replace(out, atomicfile.Durable, func(tmp string) error {
		// --no-recursion: the list names files; tar adds what they are (links stay links).
		args := append([]string{"--numeric-owner", "--no-recursion", "-cf", tmp}, list...)
		return r.Run(ctx, "tar", args...)
	})
}

// addWithLinks adds p (absolute inside root) at its canonical location and, when it is a
// symlink, whatever it points at, link by link.
func addWithLinks(root, p string, paths map[string]bool) error {
	for range 16 { // bounded: a link loop must not hang the bake
		dir, err := filepath.EvalSymlinks(filepath.Join(root, filepath.Dir(p)))
		if err != nil {
			return fmt.Errorf("resolve %s: %w", p, err)
		}
		canon := "/" + strings.TrimPrefix(filepath.Join(dir, filepath.Base(p)), root+"/")
		paths[canon] = true
		fi, err := os.Lstat(filepath.Join(root, canon))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			return nil
		}
		target, err := os.Readlink(filepath.Join(root, canon))
		if err != nil {
			return err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(canon), target)
		}
		p = target
	}
	return fmt.Errorf("%s: too many symlinks", p)
}

// ParseLdd returns the absolute library paths in ldd output.
func ParseLdd(out string) []string {
	var libs []string
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			libs = append(libs, f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			libs = append(libs, f[0]) // the dynamic loader
		}
	}
	return libs
}
