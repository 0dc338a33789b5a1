// Package actions is the lab command's orchestration (lab/cmd/lab is its thin main): each
// subcommand is a list of named actions, kind's action-list style, that run in order over
// one state the earlier ones fill (see up.go), each reporting its steps through
// lab/internal/step.
package actions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
)

// command is one subcommand: env carries everything a command may read from the outside.
type command struct {
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// commands is the dispatch table. To add a subcommand, add one line here and put its
// function in its own file of this package (a list of actions when it has several steps).
var commands = map[string]command{
	"docker":         {"start a docker engine that can run kind nodes (installs docker.io if missing)", runDocker},
	"guard":          {"egress guard: guard up|down|status", runGuard},
	"k8s-bins":       {"build the Kubernetes binaries into the version cache", runK8sBins},
	"bake":           {"bake the kind node image locally (cached by version)", runBake},
	"flanneld":       {"build flanneld into the version cache and print its path", runFlanneld},
	"iptables-layer": {"make the iptables image layer (from the node rootfs) and print its path", runIptablesLayer},
	"up":             {"bring the lab up, or repair it (make lab-up)", runUp},
	"down":           {"delete the lab cluster, the guard and its network (make lab-down)", runDown},
	"status":         {"nodes, daemon pods, NADs, pod attachments, guard counter (make lab-status)", runStatus},
	"logs":           {"kind export logs and daemon logs into $ARTIFACTS/logs (make lab-logs)", runLogs},
	"load":           {"rebuild our binaries and images and load them into the nodes (make lab-load)", runLoad},
	"deploy":         {"load, then apply deployments/ and wait for the rollout (make lab-deploy)", runDeploy},
	"manifests":      {"regenerate deployments/multus-daemonset-thick.yml (make lab-manifests)", runManifests},
	"repro-delegate": {"run a plugin + NAD on the lab with every delegate call recorded (make repro-delegate)", runReproDelegate},
	"repro-replay":   {"run a repro-delegate folder's calls again on the node, without Kubernetes (make repro-replay)", runReproReplay},
}

// Run dispatches args[0] to its command. environ is the process environment: the
// commands read their settings from it once, here, and nowhere else.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		usage(stderr)
		return fmt.Errorf("unknown command %q", args[0])
	}
	e, err := newEnv(stdout, stderr, environ)
	if err != nil {
		return err
	}
	if err := cmd.run(ctx, e, args[1:]); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: lab <command> [args]")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
}

var errUsage = errors.New("bad arguments")
