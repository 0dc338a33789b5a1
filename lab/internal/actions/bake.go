package actions

import (
	"context"
	"fmt"
	"io"

	"github.com/multus-thick/multus-thick/lab/internal/bake"
	"github.com/multus-thick/multus-thick/lab/internal/host"
)

// bakeOptions are the pinned versions, with the overrides an operator may set:
// K8S_VERSION, LAB_NODE_REVISION (a new revision bakes a new image beside the old one),
// LAB_DEBIAN_MIRROR (default: the host's apt source).
func (e *env) bakeOptions() (bake.Options, error) {
	o := bake.DefaultOptions(e.cache)
	o.K8sVersion = e.k8sVersion()
	o.Revision = get(e.vars, "LAB_NODE_REVISION", o.Revision)
	o.Progress, o.Log = e.progress, e.log
	o.Guard = e.guardOptions(nil)
	o.Mirror = e.vars["LAB_DEBIAN_MIRROR"]
	if o.Mirror == "" {
		m, err := bake.MirrorFromAptSources("/etc/apt/sources.list.d/debian.sources")
		if err != nil {
			if m, err = bake.MirrorFromAptSources("/etc/apt/sources.list"); err != nil {
				return o, fmt.Errorf("no Debian mirror (set LAB_DEBIAN_MIRROR): %w", err)
			}
		}
		o.Mirror = m
	}
	return o, nil
}

// ensureDocker is the first step of every command that needs containers.
func (e *env) ensureDocker(ctx context.Context) error {
	return e.progress.Do(ctx, "docker engine", func(ctx context.Context, _ io.Writer) error {
		return host.EnsureDocker(ctx, e.log, host.DefaultDockerOptions(e.repoRoot))
	})
}

func runBake(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	o, err := e.bakeOptions()
	if err != nil {
		return err
	}
	if err := e.ensureDocker(ctx); err != nil {
		return err
	}
	tag, err := bake.EnsureNodeImage(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, tag)
	return nil
}

func runFlanneld(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	o, err := e.bakeOptions()
	if err != nil {
		return err
	}
	path, err := bake.EnsureFlanneld(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, path)
	return nil
}

func runIptablesLayer(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	o, err := e.bakeOptions()
	if err != nil {
		return err
	}
	path, err := bake.EnsureIptablesLayer(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, path)
	return nil
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
