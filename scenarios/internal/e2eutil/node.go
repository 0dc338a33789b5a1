//go:build e2e

package e2eutil

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
)

// Runner runs a command on the machine that hosts the kind nodes. It is an
// interface so the node checks can be read (and faked) apart from docker.
type Runner interface {
	Run(ctx context.Context, name string, args ...string) (stdout []byte, err error)
}

// ExecRunner runs commands with os/exec; stderr is folded into the error.
type ExecRunner struct{}

var _ Runner = ExecRunner{}

// Run implements Runner.
func (ExecRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// Shell runs a shell script as root in a node's own root filesystem,
// network and PID namespaces, and returns its stdout.
type Shell interface {
	Sh(ctx context.Context, node, script string) (string, error)
}

// DockerShell reaches kind nodes with `docker exec` (a kind node's
// container name is its Kubernetes node name).
type DockerShell struct {
	Run Runner
}

var _ Shell = DockerShell{}

// Sh implements Shell.
func (d DockerShell) Sh(ctx context.Context, node, script string) (string, error) {
	out, err := d.Run.Run(ctx, "docker", "exec", node, "sh", "-c", script)
	if err != nil {
		return "", fmt.Errorf("node %s: %w", node, err)
	}
	return string(out), nil
}

// Nodes holds the node-side checks. They read only what CNI leaves on the
// node (host-local leases, libcni and scratch caches, links, processes),
// never the daemon's own logs or files, so they hold for any thick plugin.
type Nodes struct {
	Shell Shell
}

// Sh runs a shell script inside node's root.
func (n Nodes) Sh(ctx context.Context, node, script string) (string, error) {
	return n.Shell.Sh(ctx, node, script)
}

// HostLocalLeases returns host-local's reservations for network on node:
// IP → container ID (the first line of each lease file).
func (n Nodes) HostLocalLeases(ctx context.Context, node, dir, network string) (map[string]string, error) {
	// Each lease file is named after the IP and holds "<containerID>\n<ifname>";
	// last_reserved_ip.* and lock are bookkeeping, not leases.
	script := fmt.Sprintf(`d=%q; [ -d "$d" ] || exit 0; for f in "$d"/*; do
  b=${f##*/}; case "$b" in lock|last_reserved_ip*|'*') continue;; esac
  printf '%%s %%s\n' "$b" "$(head -n1 "$f" | tr -d '\r')"; done`, dir+"/"+network)
	out, err := n.Sh(ctx, node, script)
	if err != nil {
		return nil, err
	}
	leases := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			leases[f[0]] = f[1]
		}
	}
	return leases, nil
}

// FilesMentioning lists the files under dir on node whose name contains
// any of ids (the libcni and scratch caches are keyed by container ID).
func (n Nodes) FilesMentioning(ctx context.Context, node, dir string, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var pat []string
	for _, id := range ids {
		pat = append(pat, fmt.Sprintf("-name '*%s*'", id))
	}
	script := fmt.Sprintf(`[ -d %q ] || exit 0; find %q \( %s \) -print`, dir, dir, strings.Join(pat, " -o "))
	out, err := n.Sh(ctx, node, script)
	if err != nil {
		return nil, err
	}
	return nonEmptyLines(out), nil
}

// BridgePorts returns the host-side veths enslaved to bridge on node (the
// cluster network's bridge plugin adds one per pod sandbox to cni0). The
// node's own eth0 is a veth too, which is why the bridge is named.
func (n Nodes) BridgePorts(ctx context.Context, node, bridge string) ([]string, error) {
	out, err := n.Sh(ctx, node, fmt.Sprintf(`ip -o link show master %s type veth | awk -F': ' '{print $2}' | cut -d@ -f1`, bridge))
	if err != nil {
		return nil, err
	}
	v := nonEmptyLines(out)
	sort.Strings(v)
	return v, nil
}

// Processes returns the PIDs on node whose command name is comm.
func (n Nodes) Processes(ctx context.Context, node, comm string) ([]string, error) {
	script := fmt.Sprintf(`for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = %q ] && echo ${p#/proc/}; done; true`, comm)
	out, err := n.Sh(ctx, node, script)
	if err != nil {
		return nil, err
	}
	return nonEmptyLines(out), nil
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
