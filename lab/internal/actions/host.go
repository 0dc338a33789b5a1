package actions

import (
	"context"
	"fmt"
	"io"

	"github.com/multus-thick/multus-thick/lab/internal/host"
)

func runDocker(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	return e.ensureDocker(ctx)
}

// guardOptions are the guard's defaults; LAB_NETWORK_SUBNET moves the kind network.
func (e *env) guardOptions(log io.Writer) host.GuardOptions {
	o := host.DefaultGuardOptions()
	o.Log = log
	if s := e.vars["LAB_NETWORK_SUBNET"]; s != "" {
		o.Subnet, o.Gateway = s, e.vars["LAB_NETWORK_GATEWAY"]
	}
	return o
}

func runGuard(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: guard up|down|status", errUsage)
	}
	switch args[0] {
	case "up":
		return e.progress.Do(ctx, "egress guard", func(ctx context.Context, log io.Writer) error {
			return host.EnsureGuard(ctx, e.log, e.guardOptions(log))
		})
	case "down":
		return e.progress.Do(ctx, "remove egress guard", func(ctx context.Context, log io.Writer) error {
			return host.RemoveGuard(ctx, e.log, e.guardOptions(log))
		})
	case "status":
		n, err := host.GuardCounter(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "egress guard: %d packets rejected\n", n)
		return nil
	}
	return fmt.Errorf("%w: guard up|down|status", errUsage)
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
