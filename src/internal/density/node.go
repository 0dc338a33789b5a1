package density

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Exec runs a shell script inside a lab node and returns its stdout.
type Exec func(ctx context.Context, node, script string) ([]byte, error)

// DockerExec runs scripts in kind nodes with `docker exec` (a kind node is a
// container named after the node).
func DockerExec(docker string) Exec {
	return func(ctx context.Context, node, script string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, docker, "exec", node, "sh", "-c", script)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("docker exec %s: %w: %s", node, err, strings.TrimSpace(stderr.String()))
		}
		return stdout.Bytes(), nil
	}
}

// Where 00-multus.conf is, and where it waits while flannel runs alone:
// outside the CNI conf dir, so neither containerd nor the daemon reads it.
const (
	multusConf = "/etc/cni/net.d/00-multus.conf"
	asideConf  = "/etc/cni/mt-bench-lab.00-multus.conf"
)

// asideScript moves 00-multus.conf out of the conf dir; it fails when the
// file is missing, so a phase never measures a node it could not change.
const asideScript = "set -e; test -f " + multusConf + "; mv -f " + multusConf + " " + asideConf

// restoreScript puts the conf back unless the daemon has written a new one
// meanwhile (then the copy aside is the stale one). Idempotent: it also
// repairs what a killed run left behind.
//
// The file comes back through a hidden name inside the conf dir and a
// rename there: containerd (1.6) reloads the CNI config on rename, write and
// remove events but ignores creates, and a file moved in from outside the
// directory is only a create, so containerd would stay on flannel alone.
// The hidden name has no .conf extension, so neither containerd nor the
// daemon reads it.
const restoreScript = "if [ -f " + asideConf + " ]; then if [ -f " + multusConf + " ]; then rm -f " + asideConf +
	"; else mv -f " + asideConf + " " + restoreTmp + " && mv -f " + restoreTmp + " " + multusConf + "; fi; fi; test -f " + multusConf

const restoreTmp = "/etc/cni/net.d/.mt-bench-lab.restore"

// confAside moves 00-multus.conf aside on every node and returns the
// function that restores them all (it must run however the run ends). On a
// failure midway, the nodes already changed are restored before returning.
func confAside(ctx context.Context, run Exec, nodes []string) (restore func(context.Context) error, err error) {
	var moved []string
	restore = func(ctx context.Context) error {
		return restoreConf(ctx, run, moved)
	}
	for _, n := range nodes {
		if _, err := run(ctx, n, asideScript); err != nil {
			return nil, errors.Join(fmt.Errorf("move %s aside on %s: %w", multusConf, n, err), restore(context.WithoutCancel(ctx)))
		}
		moved = append(moved, n)
	}
	return restore, nil
}

// restoreConf runs restoreScript on every node, also after a failure on one.
func restoreConf(ctx context.Context, run Exec, nodes []string) error {
	var errs []error
	for _, n := range nodes {
		if _, err := run(ctx, n, restoreScript); err != nil {
			errs = append(errs, fmt.Errorf("restore %s on %s: %w", multusConf, n, err))
		}
	}
	return errors.Join(errs...)
}

// locateScript prints a container's /proc/<pid>/cgroup inside its node.
func locateScript(containerID string) string {
	return fmt.Sprintf("pid=$(crictl inspect -o go-template --template '{{.info.pid}}' %s) && cat /proc/$pid/cgroup", shQuote(containerID))
}
