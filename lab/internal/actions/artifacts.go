package actions

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/multus-thick/multus-thick/lab/internal/bake"
	"github.com/multus-thick/multus-thick/lab/internal/cluster"
	"github.com/multus-thick/multus-thick/lab/internal/gobuild"
	"github.com/multus-thick/multus-thick/lab/internal/labimages"
	"github.com/multus-thick/multus-thick/lab/internal/pins"
	"github.com/multus-thick/multus-thick/lab/internal/run"
)

// Reference plugins every node gets in /opt/cni/bin: what the NADs, the
// flannel plugin and the scenarios use.
var refPlugins = []string{"bridge", "macvlan", "host-local", "static", "tuning", "portmap", "flannel"}

// upArtifacts builds what goes into the nodes: our binaries, the plugins
// and the three lab images.
func (e *env) upArtifacts(ctx context.Context, st *upState) error {
	flanneld, err := bake.EnsureFlanneld(ctx, st.bakeOpts)
	if err != nil {
		return err
	}
	st.flanneld = flanneld
	r := func(log io.Writer) run.Runner { return run.Runner{Log: log, Dir: e.repoRoot} }
	if err := e.progress.Do(ctx, "build our binaries (make build)", func(ctx context.Context, log io.Writer) error {
		return r(log).Run(ctx, "make", "--no-print-directory", "build")
	}); err != nil {
		return err
	}
	if err := e.progress.Do(ctx, "reference CNI plugins", func(ctx context.Context, log io.Writer) error {
		files, err := e.pluginFiles(ctx, r(log))
		st.plugins = files
		return err
	}); err != nil {
		return err
	}
	return e.progress.Do(ctx, "lab images (daemon, test pod, flannel)", func(ctx context.Context, log io.Writer) error {
		// The daemon image comes last and alone: when our binaries are not
		// there yet, the cluster and flannel still come up, and the daemon
		// step fails naming what is missing.
		imgs, err := e.buildImages(st, log, labimages.TestPodImage, labimages.FlannelImage)
		if err != nil {
			return err
		}
		st.images = imgs
		if img, ok, err := e.daemonImage(ctx, st, log); err != nil {
			st.daemonImageErr = err
			e.progress.Note("daemon image: %v", err)
			return nil
		} else if ok {
			st.images, st.daemonOverride = append(st.images, img), img.Ref
			e.progress.Note("daemon image %s (LAB_DAEMON_IMAGE; not our build)", img.Ref)
			return nil
		}
		daemon, err := e.buildImages(st, log, labimages.DaemonImage)
		if err != nil {
			st.daemonImageErr = err
			fmt.Fprintf(log, "daemon image: %v\n", err)
			e.progress.Note("daemon image not built: %v", err)
		}
		st.images = append(imgs, daemon...)
		return nil
	})
}

func (e *env) buildImages(st *upState, log io.Writer, refs ...string) ([]cluster.Image, error) {
	imgs, err := labimages.Build(labimages.Inputs{
		BinDir: filepath.Join(e.repoRoot, "bin"), Busybox: "/bin/busybox", Flanneld: st.flanneld,
		OutDir: filepath.Join(st.s.artifacts, "lab", "images"),
	}, refs...)
	for _, img := range imgs {
		fmt.Fprintf(log, "%s %s %s\n", img.Ref, img.ID, img.Tarball)
	}
	return imgs, err
}

// pluginFiles returns the binaries for every node's /opt/cni/bin: the
// reference plugins from `make plugins`, loopback (built here: the Makefile
// list lacks it) and our cni-fault.
func (e *env) pluginFiles(ctx context.Context, r run.Runner) ([]cluster.File, error) {
	if err := r.Run(ctx, "make", "--no-print-directory", "plugins"); err != nil {
		return nil, err
	}
	v := get(e.vars, "CNI_PLUGINS_VERSION", pins.CNIPlugins)
	dir := filepath.Join(e.cache, "cni-plugins-"+v)
	var files []cluster.File
	for _, p := range refPlugins {
		files = append(files, cluster.File{Src: filepath.Join(dir, p), Name: p, Mode: 0o755})
	}
	toolDir := filepath.Join(e.cache, "tools", "cni-plugins-"+v)
	loopback := filepath.Join(toolDir, "bin", "loopback")
	if err := gobuild.Build(ctx, r, gobuild.Request{
		Name: "src", WorkDir: toolDir, // the module bake.ensureCNIPlugins uses, so one warm build serves both
		Requires: map[string]string{"github.com/containernetworking/plugins": v},
		Outputs:  map[string]string{"github.com/containernetworking/plugins/plugins/main/loopback": loopback},
		LDFlags:  "-s -w",
	}); err != nil {
		return nil, fmt.Errorf("build loopback: %w", err)
	}
	files = append(files, cluster.File{Src: loopback, Name: "loopback", Mode: 0o755})
	fault := filepath.Join(e.repoRoot, "bin", "cni-fault")
	if _, err := os.Stat(fault); err == nil {
		files = append(files, cluster.File{Src: fault, Name: "cni-fault", Mode: 0o755})
	} else {
		fmt.Fprintf(r.Log, "no %s: cni-fault not installed\n", fault)
	}
	for _, f := range files {
		if _, err := os.Stat(f.Src); err != nil {
			return nil, fmt.Errorf("plugin %s: %w", f.Name, err)
		}
	}
	return files, nil
}
