package leakcheck

import (
	"context"
	"fmt"
	"os/exec"

	"github.com/containernetworking/plugins/pkg/ns"
)

// Local runs programs on this machine; with a netns path, inside that
// network namespace (the netns tier's "node"): the process is started from
// a thread switched into it, and inherits it.
func Local(netnsPath string) Node {
	return NodeFunc(func(ctx context.Context, name string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, name, args...)
		if netnsPath == "" {
			return cmd.CombinedOutput()
		}
		var out []byte
		err := ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
			var err error
			out, err = cmd.CombinedOutput()
			return err
		})
		if err != nil {
			return out, fmt.Errorf("in netns %s: %w", netnsPath, err)
		}
		return out, nil
	})
}
