package actions

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/multus-thick/multus-thick/lab/internal/cluster"
	"github.com/multus-thick/multus-thick/lab/internal/image"
	"github.com/multus-thick/multus-thick/lab/internal/labimages"
	"github.com/multus-thick/multus-thick/lab/internal/run"
)

// LAB_DAEMON_IMAGE deploys another thick-plugin build instead of ours
// (lab-up, lab-load, lab-deploy): the conformance suite can then judge it.
// Its value is either a docker-archive tarball (`docker save` output; its
// tag is what the DaemonSet runs) or an image reference the local docker
// engine has, which is saved to a tarball first. Either way the image is
// imported into every node and never pulled: the lab has no registry.
// The manifest stays what it is; only the image of the daemon's
// DaemonSet containers changes.

// daemonImageSource is what LAB_DAEMON_IMAGE names.
type daemonImageSource struct {
	Tarball string // a docker archive on the host, or ""
	Ref     string // an image reference, when Tarball is ""
}

// parseDaemonImage reads LAB_DAEMON_IMAGE. A value that names an existing
// file, or ends in .tar/.tar.gz, is a tarball (a missing one is an error
// then, not a reference to look up); anything else is a reference.
func parseDaemonImage(v string, isFile func(string) bool) (daemonImageSource, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return daemonImageSource{}, nil
	case isFile(v):
		return daemonImageSource{Tarball: v}, nil
	case strings.HasSuffix(v, ".tar") || strings.HasSuffix(v, ".tar.gz") || strings.ContainsRune(v, os.PathSeparator) && strings.HasPrefix(v, "."):
		return daemonImageSource{}, fmt.Errorf("LAB_DAEMON_IMAGE=%s: no such tarball", v)
	case strings.ContainsAny(v, " \t") || strings.HasPrefix(v, "/"):
		return daemonImageSource{}, fmt.Errorf("LAB_DAEMON_IMAGE=%q: neither a tarball on this host nor an image reference", v)
	}
	return daemonImageSource{Ref: v}, nil
}

func isRegularFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// daemonImage returns the image LAB_DAEMON_IMAGE names, as a tarball to
// load into the nodes, or ok=false when it is unset (our own build then).
func (e *env) daemonImage(ctx context.Context, st *upState, log io.Writer) (img cluster.Image, ok bool, err error) {
	src, err := parseDaemonImage(e.vars["LAB_DAEMON_IMAGE"], isRegularFile)
	if err != nil || (src.Tarball == "" && src.Ref == "") {
		return cluster.Image{}, false, err
	}
	tarball := src.Tarball
	if tarball == "" {
		// Only what the local engine already has: `docker save` never pulls.
		tarball = filepath.Join(st.s.artifacts, "lab", "images", "daemon-override.tar")
		if err := os.MkdirAll(filepath.Dir(tarball), 0o755); err != nil {
			return cluster.Image{}, false, fmt.Errorf("image dir: %w", err)
		}
		r := run.Runner{Log: log, Dir: e.repoRoot}
		if err := r.Run(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", src.Ref); err != nil {
			return cluster.Image{}, false, fmt.Errorf("LAB_DAEMON_IMAGE=%s is not in the local docker engine (nothing is pulled; docker load it, or pass a docker-archive tarball): %w", src.Ref, err)
		}
		if err := r.Run(ctx, "docker", "save", "-o", tarball, src.Ref); err != nil {
			return cluster.Image{}, false, fmt.Errorf("LAB_DAEMON_IMAGE=%s: %w", src.Ref, err)
		}
	}
	tags, err := image.Tags(tarball)
	if err != nil {
		return cluster.Image{}, false, fmt.Errorf("LAB_DAEMON_IMAGE: %w", err)
	}
	ref := src.Ref
	if ref == "" {
		if len(tags) == 0 {
			return cluster.Image{}, false, fmt.Errorf("LAB_DAEMON_IMAGE=%s has no tag (save it by name: docker save -o x.tar image:tag)", tarball)
		}
		ref = tags[0]
		if len(tags) > 1 {
			fmt.Fprintf(log, "%s holds %v: deploying the first\n", tarball, tags)
		}
	}
	id, err := labimages.ConfigID(tarball, ref)
	if err != nil {
		return cluster.Image{}, false, fmt.Errorf("LAB_DAEMON_IMAGE: %w", err)
	}
	fmt.Fprintf(log, "daemon image %s %s from %s (LAB_DAEMON_IMAGE)\n", ref, id, tarball)
	return cluster.Image{Tarball: tarball, Ref: ref, ID: id}, true, nil
}

// setImage points the daemon's DaemonSet (daemonNamespace/daemonName) at
// to: its first container's image, in every container and init container
// that runs it. Keyed to the DaemonSet rather than to our lab tag, it
// serves any manifest shape that names the daemon so (ours, upstream's).
// It returns how many containers it changed.
func setImage(objs []*unstructured.Unstructured, to string) (int, error) {
	n := 0
	for _, o := range objs {
		if o.GetKind() != "DaemonSet" || o.GetName() != daemonName || o.GetNamespace() != daemonNamespace {
			continue
		}
		containers, _, err := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		if err != nil || len(containers) == 0 {
			return 0, fmt.Errorf("DaemonSet %s/%s has no containers: %v", daemonNamespace, daemonName, err)
		}
		from, _ := containers[0].(map[string]any)["image"].(string)
		for _, field := range []string{"containers", "initContainers"} {
			path := []string{"spec", "template", "spec", field}
			list, found, err := unstructured.NestedSlice(o.Object, path...)
			if err != nil {
				return n, fmt.Errorf("DaemonSet %s %s: %w", daemonName, field, err)
			}
			if !found {
				continue
			}
			for _, c := range list {
				if cm, ok := c.(map[string]any); ok && cm["image"] == from {
					cm["image"] = to
					n++
				}
			}
			if err := unstructured.SetNestedSlice(o.Object, list, path...); err != nil {
				return n, fmt.Errorf("DaemonSet %s %s: %w", daemonName, field, err)
			}
		}
	}
	return n, nil
}

// daemonRef is the image the daemon's pods run: LAB_DAEMON_IMAGE's when
// it was loaded, else our lab build.
func (st *upState) daemonRef() string {
	if st.daemonOverride != "" {
		return st.daemonOverride
	}
	return labimages.DaemonImage
}
