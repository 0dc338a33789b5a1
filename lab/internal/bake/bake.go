package bake

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/multus-thick/multus-thick/lab/internal/gobuild"
	"github.com/multus-thick/multus-thick/lab/internal/host"
	"github.com/multus-thick/multus-thick/lab/internal/image"
	"github.com/multus-thick/multus-thick/lab/internal/k8sbins"
	"github.com/multus-thick/multus-thick/lab/internal/run"
)

// EnsureNodeImage returns the node image tag, baking it when docker does not have it yet.
// The docker engine must answer; the egress guard is installed before the bake container
// starts (EnsureGuard), although that container has no network at all.
func EnsureNodeImage(ctx context.Context, o Options) (string, error) {
	tag := o.ImageTag()
	if dockerImageExists(ctx, tag) {
		o.Progress.Cached("node image", tag)
		return tag, nil
	}
	start := time.Now()
	// debootstrap mostly waits on the mirror and the disk while the Go builds below want the
	// CPU, so the rootfs (and the iptables layer made from it) is made alongside them.
	rootfs := inBackground(ctx, func(ctx context.Context) error {
		_, err := EnsureIptablesLayer(ctx, o)
		return err
	})
	defer rootfs.stop()
	// Tools that do not depend on what kubeadm names build while Kubernetes may still be building.
	if err := ensureCNIPlugins(ctx, o); err != nil {
		return "", err
	}
	if err := ensureCrictl(ctx, o); err != nil {
		return "", err
	}
	binDir, err := ensureK8sBins(ctx, o)
	if err != nil {
		return "", err
	}
	imgs, err := kubeadmImages(ctx, o, binDir)
	if err != nil {
		return "", err
	}
	if err := ensureEtcd(ctx, o, EtcdModuleVersion(Tag(imgs.Etcd))); err != nil {
		return "", err
	}
	if err := ensureCoreDNS(ctx, o, Tag(imgs.CoreDNS)); err != nil {
		return "", err
	}
	if err := ensurePause(ctx, o, Tag(imgs.Pause)); err != nil {
		return "", err
	}
	if err := rootfs.wait(); err != nil {
		return "", err
	}
	specs := imageSpecs(o, imgs, binDir)
	if err := ensureImages(ctx, o, specs); err != nil {
		return "", err
	}
	if err := ensureBaseImage(ctx, o); err != nil {
		return "", err
	}
	if err := assemble(ctx, o, binDir, specs); err != nil {
		return "", err
	}
	o.Progress.Note("node image %s baked in %s", tag, time.Since(start).Round(time.Second))
	return tag, nil
}

// background is a step running alongside the others.
type background struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func inBackground(ctx context.Context, fn func(context.Context) error) *background {
	ctx, cancel := context.WithCancel(ctx)
	b := &background{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		b.err = fn(ctx)
	}()
	return b
}

// wait returns the step's error once it has finished.
func (b *background) wait() error {
	<-b.done
	return b.err
}

// stop cancels the step if it still runs and waits for it, so nothing outlives the bake.
func (b *background) stop() {
	b.cancel()
	<-b.done
}

func ensureK8sBins(ctx context.Context, o Options) (string, error) {
	var bin string
	label := "kubernetes " + o.K8sVersion + " binaries"
	all := true
	for _, c := range k8sbins.Commands {
		all = all && gobuild.Exists(filepath.Join(k8sbins.BinDir(o.CacheDir, o.K8sVersion), c))
	}
	if all {
		bin = k8sbins.BinDir(o.CacheDir, o.K8sVersion)
		o.Progress.Cached(label, bin)
		return bin, nil
	}
	err := o.Progress.Do(ctx, label+" (waits for a running build)", func(ctx context.Context, log io.Writer) error {
		var err error
		bin, err = k8sbins.EnsureK8sBins(ctx, k8sbins.Options{Version: o.K8sVersion, CacheDir: o.CacheDir, Log: log, Env: o.Env})
		return err
	})
	return bin, err
}

func dockerImageExists(ctx context.Context, ref string) bool {
	return exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", ref).Run() == nil
}

// ensureBaseImage imports the rootfs tarball. `docker import` refuses STOPSIGNAL, so only
// the environment systemd checks for is set here.
func ensureBaseImage(ctx context.Context, o Options) error {
	if dockerImageExists(ctx, o.baseTag()) {
		o.Progress.Cached("node base image", o.baseTag())
		return nil
	}
	return o.Progress.Do(ctx, "node base image (docker import)", func(ctx context.Context, log io.Writer) error {
		return run.Runner{Log: log, Env: o.Env}.Run(ctx, "docker", "import", "--change", "ENV container=docker",
			o.rootfsTar(), o.baseTag())
	})
}

// bakeMount is where the image tarballs are mounted in the bake container (outside /kind, so
// the committed image keeps no trace of the mount point there).
const bakeMount = "/mnt/bake-images"

// assemble copies the overlay into a container of the base image, imports the control-plane
// images into its containerd and commits it as the node image.
func assemble(ctx context.Context, o Options, binDir string, specs map[string]image.Spec) error {
	kindDir, err := kindBaseFiles(ctx, o)
	if err != nil {
		return err
	}
	entries, err := overlay(o, kindDir, binDir)
	if err != nil {
		return err
	}
	if err := o.Progress.Do(ctx, "egress guard", func(ctx context.Context, log io.Writer) error {
		g := o.Guard
		g.Log = log
		return host.EnsureGuard(ctx, o.Log, g)
	}); err != nil {
		return err
	}
	name := "mt-bake-" + strings.NewReplacer(":", "-", "/", "-").Replace(o.ImageTag())
	return o.Progress.Do(ctx, "assemble node image "+o.ImageTag(), func(ctx context.Context, log io.Writer) error {
		r := run.Runner{Log: log, Env: o.Env}
		_ = r.Run(ctx, "docker", "rm", "-f", name)
		defer func() { _ = r.Run(context.WithoutCancel(ctx), "docker", "rm", "-f", name) }()
		if err := r.Run(ctx, "docker", "run", "-d", "--name", name, "--network", "none",
			"-v", o.imagesDir()+":"+bakeMount+":ro", o.baseTag(), "/bin/sleep", "infinity"); err != nil {
			return err
		}
		if err := copyOverlay(ctx, r, name, entries); err != nil {
			return err
		}
		return importImages(ctx, r, name, specs, o.ImageTag())
	})
}

func copyOverlay(ctx context.Context, r run.Runner, name string, entries []overlayEntry) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeOverlay(pw, entries)) }()
	if err := r.RunStdin(ctx, pr, "docker", "cp", "-", name+":/"); err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("copy overlay: %w", err)
	}
	return nil
}

// importImages runs containerd in the bake container just long enough to import the images,
// the way kind's node-image builder does, then commits.
func importImages(ctx context.Context, r run.Runner, name string, specs map[string]image.Spec, tag string) error {
	exe := func(args ...string) error { return r.Run(ctx, "docker", append([]string{"exec", name}, args...)...) }
	if err := exe("sh", "-c", "nohup containerd >/var/log/bake-containerd.log 2>&1 &"); err != nil {
		return err
	}
	if err := waitFor(ctx, 60*time.Second, func() bool {
		return exec.CommandContext(ctx, "docker", "exec", name, "ctr", "version").Run() == nil
	}); err != nil {
		_ = exe("cat", "/var/log/bake-containerd.log")
		return fmt.Errorf("containerd in the bake container: %w", err)
	}
	files := make([]string, 0, len(specs))
	for f := range specs {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		if err := exe("ctr", "-n", "k8s.io", "images", "import", "--label=io.cri-containerd.pinned=pinned",
			"--all-platforms", "--no-unpack", "--digests", bakeMount+"/"+f); err != nil {
			return fmt.Errorf("import %s: %w", f, err)
		}
	}
	out, err := r.Output(ctx, "docker", "exec", name, "ctr", "-n", "k8s.io", "images", "ls", "-q")
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		have[l] = true
	}
	for _, f := range files {
		if ref := specs[f].Ref; !have[ref] {
			return fmt.Errorf("image %s missing from the node's containerd after import", ref)
		}
	}
	// Stop containerd and drop run-time leftovers so the image starts clean.
	if err := exe("sh", "-c", `pkill containerd; for i in $(seq 50); do pgrep -x containerd >/dev/null || break; sleep 0.2; done
rm -rf /run/containerd /var/log/bake-containerd.log /tmp/* /var/lib/containerd/tmpmounts`); err != nil {
		return err
	}
	// kind's base image also sets STOPSIGNAL SIGRTMIN+3; docker 20.10 refuses it in commit as
	// in import. kind deletes nodes with `docker rm -f`, so only `docker stop` of a node is
	// slower (systemd re-executes on SIGTERM, docker kills it after its timeout).
	return r.Run(ctx, "docker", "commit",
		"--change", `ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]`,
		"--change", `CMD []`,
		name, tag)
}

// kindBaseFiles returns images/base/files of the pinned kind module.
func kindBaseFiles(ctx context.Context, o Options) (string, error) {
	dir, _, err := gobuild.ModuleDir(ctx, run.Runner{Env: o.Env}, "sigs.k8s.io/kind", o.KindVersion)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "images", "base", "files"), nil
}

func waitFor(ctx context.Context, timeout time.Duration, ok func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for !ok() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil
}
