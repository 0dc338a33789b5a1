package actions

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/multus-thick/multus-thick/deployments"
	"github.com/multus-thick/multus-thick/lab/internal/addons"
	"github.com/multus-thick/multus-thick/lab/internal/cluster"
	"github.com/multus-thick/multus-thick/lab/internal/kube"
	"github.com/multus-thick/multus-thick/lab/internal/labimages"
)

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
