package actions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/multus-thick/multus-thick/deployments"
	"github.com/multus-thick/multus-thick/lab/internal/cluster"
	"github.com/multus-thick/multus-thick/lab/internal/host"
	"github.com/multus-thick/multus-thick/lab/internal/kube"
)

// The daemon's objects as deployments/ names them.
const (
	daemonNamespace = "kube-system"
	daemonName      = "kube-multus-ds"
	daemonSelector  = "app=multus"
)

// labSettings are the cluster side's knobs, read once from the environment:
//
//	LAB_CLUSTER     kind cluster name (default mt-lab)
//	LAB_NODE_IMAGE  use this node image instead of baking one (needs a registry or a
//	                docker that already has it)
//	LAB_KUBECONFIG  where the cluster's kubeconfig is written (default _artifacts/kubeconfig)
//	ARTIFACTS       where images and exported logs go (default _artifacts)
type labSettings struct {
	name, nodeImage, kubeconfig, artifacts string
}

func (e *env) lab() labSettings {
	art := get(e.vars, "ARTIFACTS", filepath.Join(e.repoRoot, "_artifacts"))
	return labSettings{
		name:       get(e.vars, "LAB_CLUSTER", cluster.DefaultName),
		nodeImage:  e.vars["LAB_NODE_IMAGE"],
		kubeconfig: get(e.vars, "LAB_KUBECONFIG", filepath.Join(art, "kubeconfig")),
		artifacts:  art,
	}
}

func (e *env) cluster(log io.Writer) *cluster.Cluster {
	s := e.lab()
	return cluster.New(s.name, s.kubeconfig, log)
}

// kubeClient exports the kubeconfig of a running cluster and connects to it.
func (e *env) kubeClient(c *cluster.Cluster) (*kube.Client, error) {
	ok, err := c.Exists()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("cluster %s is not up (run make lab-up)", c.Name)
	}
	if err := c.ExportKubeconfig(); err != nil {
		return nil, err
	}
	return kube.FromKubeconfig(c.Kubeconfig)
}

func runDown(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	s := e.lab()
	// Without a docker engine there are no containers or docker networks to
	// remove, only the guard's iptables rules.
	dockerUp := dockerAnswers(ctx)
	if dockerUp {
		err := e.progress.Do(ctx, "delete kind cluster "+s.name, func(ctx context.Context, log io.Writer) error {
			return e.cluster(log).Delete()
		})
		if err != nil {
			return err
		}
	}
	return e.progress.Do(ctx, "remove egress guard and its network", func(ctx context.Context, log io.Writer) error {
		return host.RemoveGuard(ctx, e.log, e.guardOptions(log))
	})
}

func runStatus(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var rep kube.Report
	c := e.cluster(io.Discard)
	client, err := e.kubeClient(c)
	if err == nil {
		rep = client.Collect(ctx, daemonNamespace, daemonSelector)
		fmt.Fprintf(e.stdout, "cluster %s (KUBECONFIG=%s)\n", c.Name, c.Kubeconfig)
	}
	rep.Guard = guardLine(ctx)
	if rerr := rep.Render(e.stdout); rerr != nil {
		return rerr
	}
	return err
}

// dockerAnswers reports whether a docker engine answers within 10s.
func dockerAnswers(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").Run() == nil
}

func guardLine(ctx context.Context) string {
	n, err := host.GuardCounter(ctx)
	if err != nil {
		return "unknown: " + err.Error()
	}
	return fmt.Sprintf("%d packets rejected", n)
}

func runLogs(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	s := e.lab()
	dir := filepath.Join(s.artifacts, "logs")
	c := e.cluster(io.Discard)
	var errs []error
	errs = append(errs, e.progress.Do(ctx, "kind export logs", func(ctx context.Context, log io.Writer) error {
		kindDir := filepath.Join(dir, "kind")
		if err := os.RemoveAll(kindDir); err != nil {
			return err
		}
		return cluster.New(s.name, s.kubeconfig, log).CollectLogs(kindDir)
	}))
	errs = append(errs, e.progress.Do(ctx, "daemon logs", func(ctx context.Context, log io.Writer) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		client, err := e.kubeClient(c)
		if err != nil {
			return err
		}
		files, err := client.SaveLogs(ctx, daemonNamespace, daemonSelector, filepath.Join(dir, "daemon"))
		for _, f := range files {
			fmt.Fprintln(log, f)
		}
		return err
	}))
	e.progress.Note("logs in %s", dir)
	return errors.Join(errs...)
}

// runManifests regenerates deployments/multus-daemonset-thick.yml.
func runManifests(_ context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	data, err := deployments.Bundle()
	if err != nil {
		return err
	}
	path := filepath.Join(e.repoRoot, "deployments", deployments.BundleFile)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintln(e.stdout, path)
	return nil
}
