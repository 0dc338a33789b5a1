package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/multus-thick/multus-thick/deployments"
	"github.com/multus-thick/multus-thick/lab/internal/addons"
	"github.com/multus-thick/multus-thick/lab/internal/bake"
	"github.com/multus-thick/multus-thick/lab/internal/cluster"
	"github.com/multus-thick/multus-thick/lab/internal/gobuild"
	"github.com/multus-thick/multus-thick/lab/internal/host"
	"github.com/multus-thick/multus-thick/lab/internal/kube"
	"github.com/multus-thick/multus-thick/lab/internal/labimages"
	"github.com/multus-thick/multus-thick/lab/internal/run"
)

// imageIDAnnotation on a pod template carries the image ID the pods should
// run: the lab's tags never change (localhost/...:lab), so a rebuilt image
// only rolls the pods through this annotation.
const imageIDAnnotation = "lab.multus-thick.io/image-id"

// Reference plugins every node gets in /opt/cni/bin: what the NADs, the
// flannel plugin and the scenarios use.
var refPlugins = []string{"bridge", "macvlan", "host-local", "static", "tuning", "portmap", "flannel"}

// Deadlines of the waits; generous for a 2-core machine under load.
const (
	nodesReadyTimeout = 5 * time.Minute
	rolloutTimeout    = 5 * time.Minute
)

// upState is what the steps of `lab up` hand to each other.
type upState struct {
	s         labSettings
	bakeOpts  bake.Options
	nodeImage string
	flanneld  string
	plugins   []cluster.File
	images    []cluster.Image
	// daemonImageErr says why the daemon image could not be built; the
	// daemon step reports it.
	daemonImageErr error
	// daemonOverride is LAB_DAEMON_IMAGE's tag once loaded (daemonimage.go).
	daemonOverride string
	client         *kube.Client
	manifest       daemonManifest // LAB_MANIFEST
}

// runUp brings the lab up, or repairs it: every step is idempotent.
func runUp(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	start := time.Now()
	st, err := e.newUpState()
	if err != nil {
		return err
	}
	for _, fn := range []func(context.Context, *upState) error{
		e.upHost, e.upNodeImage, e.upArtifacts, e.upCluster, e.upLoad, e.upNetwork, e.upDaemon, e.upDRA, e.upNADs,
	} {
		if err := fn(ctx, st); err != nil {
			return err
		}
	}
	e.progress.Note("lab %s up in %s; export KUBECONFIG=%s", st.s.name, time.Since(start).Round(time.Second), st.s.kubeconfig)
	return nil
}

// runLoad rebuilds our binaries and images and loads them into the running
// cluster (no deploy): for iterating on the daemon.
func runLoad(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	st, err := e.newUpState()
	if err != nil {
		return err
	}
	for _, fn := range []func(context.Context, *upState) error{e.upArtifacts, e.upLoad} {
		if err := fn(ctx, st); err != nil {
			return err
		}
	}
	return st.daemonImageErr
}

// runDeploy is load, then apply deployments/ and wait for the rollout.
func runDeploy(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	st, err := e.newUpState()
	if err != nil {
		return err
	}
	for _, fn := range []func(context.Context, *upState) error{e.upArtifacts, e.upLoad, e.upDaemon, e.upDRA} {
		if err := fn(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

func (e *env) newUpState() (*upState, error) {
	o, err := e.bakeOptions()
	if err != nil {
		return nil, err
	}
	m, err := e.daemonManifest()
	if err != nil {
		return nil, err
	}
	return &upState{s: e.lab(), bakeOpts: o, manifest: m}, nil
}

// upHost: a docker engine, then the egress guard before any container starts.
func (e *env) upHost(ctx context.Context, st *upState) error {
	if err := e.ensureDocker(ctx); err != nil {
		return err
	}
	return e.progress.Do(ctx, "egress guard", func(ctx context.Context, log io.Writer) error {
		return host.EnsureGuard(ctx, e.log, e.guardOptions(log))
	})
}

func (e *env) upNodeImage(ctx context.Context, st *upState) error {
	if st.s.nodeImage != "" {
		e.progress.Note("node image %s (LAB_NODE_IMAGE; not baked)", st.s.nodeImage)
		st.nodeImage = st.s.nodeImage
		return nil
	}
	tag, err := bake.EnsureNodeImage(ctx, st.bakeOpts)
	st.nodeImage = tag
	return err
}

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
	v := get(e.vars, "CNI_PLUGINS_VERSION", "v1.10.0")
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

// upCluster creates the kind cluster or reuses the one that is up, then
// takes CoreDNS's upstream forward away before CoreDNS can ever run.
func (e *env) upCluster(ctx context.Context, st *upState) error {
	cfg, err := os.ReadFile(filepath.Join(e.repoRoot, "kind-config.yaml"))
	if err != nil {
		return fmt.Errorf("kind config: %w", err)
	}
	if err := e.progress.Do(ctx, "kind cluster "+st.s.name, func(ctx context.Context, log io.Writer) error {
		state, err := e.cluster(log).Ensure(ctx, cluster.CreateOptions{Config: cfg, NodeImage: st.nodeImage})
		if err == nil {
			e.progress.Note("cluster %s", state)
		}
		return err
	}); err != nil {
		return err
	}
	return e.progress.Do(ctx, "CoreDNS without upstream forward", func(ctx context.Context, log io.Writer) error {
		client, err := kube.FromKubeconfig(st.s.kubeconfig)
		if err != nil {
			return err
		}
		st.client = client
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := client.WaitAPI(ctx); err != nil {
			return err
		}
		changed, err := client.EnsureCorefile(ctx, addons.Corefile)
		fmt.Fprintf(log, "Corefile changed: %v\n", changed)
		return err
	})
}

// upLoad puts the lab images and the plugins into every node.
func (e *env) upLoad(ctx context.Context, st *upState) error {
	c := e.cluster(io.Discard)
	if err := e.progress.Do(ctx, "load images into nodes", func(ctx context.Context, log io.Writer) error {
		for _, img := range st.images {
			loaded, err := c.LoadImage(ctx, img)
			if err != nil {
				return err
			}
			fmt.Fprintf(log, "%s: loaded into %v (others had %s)\n", img.Ref, loaded, img.ID)
		}
		return nil
	}); err != nil {
		return err
	}
	return e.progress.Do(ctx, "CNI plugins into /opt/cni/bin", func(ctx context.Context, log io.Writer) error {
		for _, f := range st.plugins {
			fmt.Fprintf(log, "%s <- %s\n", f.Name, f.Src)
		}
		return c.InstallFiles(ctx, "/opt/cni/bin", st.plugins)
	})
}

func (st *upState) imageID(ref string) string {
	for _, img := range st.images {
		if img.Ref == ref {
			return img.ID
		}
	}
	return ""
}

func (e *env) clientFor(st *upState) (*kube.Client, error) {
	if st.client != nil {
		return st.client, nil
	}
	c, err := e.kubeClient(e.cluster(io.Discard))
	st.client = c
	return c, err
}

// upNetwork installs flannel and waits for every node to be Ready.
func (e *env) upNetwork(ctx context.Context, st *upState) error {
	return e.progress.Do(ctx, "flannel (vxlan) and nodes ready", func(ctx context.Context, log io.Writer) error {
		client, err := e.clientFor(st)
		if err != nil {
			return err
		}
		objs, err := deployments.Decode(addons.Flannel)
		if err != nil {
			return fmt.Errorf("flannel manifest: %w", err)
		}
		if err := annotateImageID(objs, st.imageID(labimages.FlannelImage)); err != nil {
			return err
		}
		if err := client.Apply(ctx, objs, kube.ApplyOptions{Log: log}); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, nodesReadyTimeout)
		defer cancel()
		if err := client.WaitDaemonSet(wctx, "kube-flannel", "kube-flannel-ds"); err != nil {
			return err
		}
		if err := client.WaitNodesReady(wctx, 3); err != nil {
			return err
		}
		return client.WaitCoreDNS(wctx)
	})
}

// upDaemon applies the LAB_MANIFEST manifest (deployments/ by default)
// with the lab's image and waits for it.
func (e *env) upDaemon(ctx context.Context, st *upState) error {
	return e.progress.Do(ctx, "multus daemon from "+st.manifest.source, func(ctx context.Context, log io.Writer) error {
		if st.daemonImageErr != nil {
			return st.daemonImageErr
		}
		client, err := e.clientFor(st)
		if err != nil {
			return err
		}
		objs, err := st.manifest.objects()
		if err != nil {
			return err
		}
		if st.daemonOverride != "" {
			n, err := setImage(objs, st.daemonOverride)
			if err != nil {
				return fmt.Errorf("LAB_DAEMON_IMAGE: %w", err)
			}
			if n == 0 {
				return fmt.Errorf("LAB_DAEMON_IMAGE: the manifest has no DaemonSet %s/%s to run %s", daemonNamespace, daemonName, st.daemonOverride)
			}
		}
		if err := annotateImageID(objs, st.imageID(st.daemonRef())); err != nil {
			return err
		}
		dctx, cancel := context.WithTimeout(ctx, rolloutTimeout)
		defer cancel()
		if _, err := client.DeleteChangedDaemonSets(dctx, objs, log); err != nil {
			return err
		}
		if err := client.Apply(ctx, objs, kube.ApplyOptions{Log: log}); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, rolloutTimeout)
		defer cancel()
		return client.WaitDaemonSet(wctx, daemonNamespace, daemonName)
	})
}

// upNADs applies the lab's NADs (fixtures/nad/lab-*.yaml).
func (e *env) upNADs(ctx context.Context, st *upState) error {
	return e.progress.Do(ctx, "lab NetworkAttachmentDefinitions", func(ctx context.Context, log io.Writer) error {
		client, err := e.clientFor(st)
		if err != nil {
			return err
		}
		objs, err := addons.LabNADs()
		if err != nil {
			return err
		}
		return client.Apply(ctx, objs, kube.ApplyOptions{Log: log})
	})
}

// annotateImageID marks every workload's pod template with the image ID.
func annotateImageID(objs []*unstructured.Unstructured, id string) error {
	if id == "" {
		return nil
	}
	for _, o := range objs {
		if o.GetKind() != "DaemonSet" && o.GetKind() != "Deployment" {
			continue
		}
		if err := kube.SetTemplateAnnotation(o, imageIDAnnotation, strings.TrimPrefix(id, "sha256:")[:12]); err != nil {
			return err
		}
	}
	return nil
}
