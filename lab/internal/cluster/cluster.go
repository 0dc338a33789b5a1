package cluster

import (
	"context"

	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	kindlog "sigs.k8s.io/kind/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/multus-thick/multus-thick/lab/internal/run"
)

// DefaultName is the lab cluster's name (LAB_CLUSTER overrides it).
const DefaultName = "mt-lab"

// Cluster is one kind cluster, by name.
type Cluster struct {
	Name       string
	Kubeconfig string // file the lab writes the cluster's kubeconfig to
	provider   *kindcluster.Provider
	docker     run.Runner
}

// New returns the cluster named name; kind's own messages go to log.
func New(name, kubeconfig string, log io.Writer) *Cluster {
	return &Cluster{
		Name:       name,
		Kubeconfig: kubeconfig,
		provider:   kindcluster.NewProvider(kindcluster.ProviderWithDocker(), kindcluster.ProviderWithLogger(writerLogger{log})),
		docker:     run.Runner{Log: log},
	}
}

// CreateOptions say how to create a missing cluster.
type CreateOptions struct {
	Config    []byte // kind-config.yaml
	NodeImage string
}

// State is what Ensure found.
type State string

const (
	Created   State = "created"
	Reused    State = "reused"
	Restarted State = "restarted" // node containers were stopped and got started again
	Recreated State = "recreated" // nodes were missing: deleted and created anew
)

// Ensure makes the cluster exist with every node the config asks for and
// running. A cluster that is fully up is reused; stopped node containers
// (after a host reboot or a docker restart) are started; a cluster with
// missing nodes cannot be repaired by kind and is recreated.
func (c *Cluster) Ensure(ctx context.Context, opts CreateOptions) (State, error) {
	want, err := nodeCount(opts.Config)
	if err != nil {
		return "", err
	}
	names, err := c.provider.List()
	if err != nil {
		return "", fmt.Errorf("list kind clusters: %w", err)
	}
	state := Created
	if slices.Contains(names, c.Name) {
		ns, err := c.provider.ListNodes(c.Name)
		if err != nil {
			return "", fmt.Errorf("list nodes of %s: %w", c.Name, err)
		}
		if len(ns) == want {
			started, err := c.startStopped(ctx, ns)
			if err != nil {
				return "", err
			}
			if broken := unresponsive(ctx, ns); len(broken) > 0 {
				// Measured: a node whose `docker stop` timed out stays
				// "running" to docker while nothing can exec in it; kind
				// cannot repair a node, so the cluster is made anew.
				if err := c.Delete(); err != nil {
					return "", fmt.Errorf("nodes %v do not answer; deleting the cluster to recreate it: %w", broken, err)
				}
				return c.create(ctx, opts, Recreated)
			}
			if err := c.provider.ExportKubeConfig(c.Name, c.Kubeconfig, false); err != nil {
				return "", fmt.Errorf("export kubeconfig: %w", err)
			}
			if started {
				return Restarted, nil
			}
			return Reused, nil
		}
		if err := c.Delete(); err != nil {
			return "", err
		}
		state = Recreated
	}
	return c.create(ctx, opts, state)
}

func (c *Cluster) create(ctx context.Context, opts CreateOptions, state State) (State, error) {
	if err := os.MkdirAll(filepath.Dir(c.Kubeconfig), 0o755); err != nil {
		return "", fmt.Errorf("kubeconfig dir: %w", err)
	}
	createOpts := []kindcluster.CreateOption{
		kindcluster.CreateWithRawConfig(opts.Config),
		kindcluster.CreateWithKubeconfigPath(c.Kubeconfig),
		// Nodes only become Ready once flannel runs, which the lab installs
		// later; waiting here would only time out.
		kindcluster.CreateWithWaitForReady(0),
		kindcluster.CreateWithDisplayUsage(false),
		kindcluster.CreateWithDisplaySalutation(false),
	}
	if opts.NodeImage != "" {
		createOpts = append(createOpts, kindcluster.CreateWithNodeImage(opts.NodeImage))
	}
	// kind's Create takes no context; it has its own timeouts per action.
	if err := c.provider.Create(c.Name, createOpts...); err != nil {
		return "", fmt.Errorf("kind create cluster %s: %w", c.Name, err)
	}
	return state, ctx.Err()
}

// startStopped starts node containers that are not running.
func (c *Cluster) startStopped(ctx context.Context, ns []nodes.Node) (bool, error) {
	var stopped []string
	for _, n := range ns {
		out, err := c.docker.Output(ctx, "docker", "inspect", "--format", "{{.State.Running}}", n.String())
		if err != nil {
			return false, fmt.Errorf("inspect node %s: %w", n, err)
		}
		if strings.TrimSpace(string(out)) != "true" {
			stopped = append(stopped, n.String())
		}
	}
	if len(stopped) == 0 {
		return false, nil
	}
	if err := c.docker.Run(ctx, "docker", append([]string{"start"}, stopped...)...); err != nil {
		return false, fmt.Errorf("start stopped nodes: %w", err)
	}
	return true, nil
}

// unresponsive returns the nodes in which a trivial command cannot run.
func unresponsive(ctx context.Context, ns []nodes.Node) []string {
	var broken []string
	for _, n := range ns {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := n.CommandContext(ctx, "true").Run()
		cancel()
		if err != nil {
			broken = append(broken, n.String())
		}
	}
	return broken
}

// Exists reports whether a kind cluster of this name exists.
func (c *Cluster) Exists() (bool, error) {
	names, err := c.provider.List()
	if err != nil {
		return false, fmt.Errorf("list kind clusters: %w", err)
	}
	return slices.Contains(names, c.Name), nil
}

// Delete deletes the cluster and its kubeconfig entry; a missing cluster is
// not an error.
func (c *Cluster) Delete() error {
	err := c.provider.Delete(c.Name, c.Kubeconfig)
	if err == nil {
		return nil
	}
	// Measured on a cgroup v1 host: a node that was being stopped kept a
	// pod's freezer cgroup FROZEN, its runc init hung in D state, and docker
	// could neither stop nor remove the node ("did not receive an exit
	// event"). Thawing the node's frozen cgroups lets it exit; then retry.
	if n := thawFrozen(freezerRoot); n > 0 {
		time.Sleep(2 * time.Second)
		if err = c.provider.Delete(c.Name, c.Kubeconfig); err == nil {
			return nil
		}
	}
	return fmt.Errorf("kind delete cluster %s: %w", c.Name, err)
}

// freezerRoot is where docker's containers have their cgroup v1 freezer.
const freezerRoot = "/sys/fs/cgroup/freezer/docker"

// thawFrozen thaws every FROZEN freezer cgroup under root and returns how
// many it thawed. The lab never freezes anything on purpose, so a frozen
// cgroup under a node is always a leftover. On cgroup v2 hosts root does not
// exist and nothing happens.
func thawFrozen(root string) int {
	n := 0
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "freezer.state" {
			return nil
		}
		state, err := os.ReadFile(p)
		if err == nil && strings.TrimSpace(string(state)) == "FROZEN" && os.WriteFile(p, []byte("THAWED"), 0o644) == nil {
			n++
		}
		return nil
	})
	return n
}

// Nodes returns the cluster's node containers.
func (c *Cluster) Nodes() ([]nodes.Node, error) {
	ns, err := c.provider.ListNodes(c.Name)
	if err != nil {
		return nil, fmt.Errorf("list nodes of %s: %w", c.Name, err)
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("cluster %s has no nodes (is it up? run make lab-up)", c.Name)
	}
	return ns, nil
}

// ExportKubeconfig writes the cluster's kubeconfig to c.Kubeconfig.
func (c *Cluster) ExportKubeconfig() error {
	if err := os.MkdirAll(filepath.Dir(c.Kubeconfig), 0o755); err != nil {
		return fmt.Errorf("kubeconfig dir: %w", err)
	}
	if err := c.provider.ExportKubeConfig(c.Name, c.Kubeconfig, false); err != nil {
		return fmt.Errorf("export kubeconfig: %w", err)
	}
	return nil
}

// CollectLogs is `kind export logs` into dir.
func (c *Cluster) CollectLogs(dir string) error {
	if err := c.provider.CollectLogs(c.Name, dir); err != nil {
		return fmt.Errorf("kind export logs: %w", err)
	}
	return nil
}

// nodeCount returns how many nodes a kind config asks for (kind's default is one).
func nodeCount(config []byte) (int, error) {
	var cfg struct {
		Nodes []struct {
			Role string `json:"role"`
		} `json:"nodes"`
	}
	if err := yaml.Unmarshal(config, &cfg); err != nil {
		return 0, fmt.Errorf("parse kind config: %w", err)
	}
	if len(cfg.Nodes) == 0 {
		return 1, nil
	}
	return len(cfg.Nodes), nil
}

// writerLogger sends kind's messages to a step log.
type writerLogger struct{ w io.Writer }

var _ kindlog.Logger = writerLogger{}

func (l writerLogger) Warn(m string)                      { l.printf("WARN: %s", m) }
func (l writerLogger) Warnf(f string, a ...any)           { l.printf("WARN: "+f, a...) }
func (l writerLogger) Error(m string)                     { l.printf("ERROR: %s", m) }
func (l writerLogger) Errorf(f string, a ...any)          { l.printf("ERROR: "+f, a...) }
func (l writerLogger) V(kindlog.Level) kindlog.InfoLogger { return l }
func (l writerLogger) Info(m string)                      { l.printf("%s", m) }
func (l writerLogger) Infof(f string, a ...any)           { l.printf(f, a...) }
func (l writerLogger) Enabled() bool                      { return l.w != nil }

func (l writerLogger) printf(f string, a ...any) {
	if l.w == nil {
		return
	}
	s := fmt.Sprintf(f, a...)
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	_, _ = io.WriteString(l.w, s)
}
