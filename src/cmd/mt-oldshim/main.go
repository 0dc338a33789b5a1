// Command mt-oldshim stands in for upstream Multus's shim in tests: it is
// our multus-shim for every command but DEL, and for DEL it behaves as
// upstream's does: one /healthz probe, and if that fails the DEL is
// dropped (logged, exit 0), so the pod's IPs leak. Scenarios install it on
// a node to prove that our daemon's drain serves such older shims.
//
// Every DEL outcome is appended to $MT_OLDSHIM_LOG (default
// /var/log/mt-oldshim.log on the node) as "<time> <containerID> <outcome>".
package main

import (
	"context"
	"os"
	"strings"

	"github.com/multus-thick/multus-thick/src/cmd/mt-oldshim/oldshim"
)

func main() {
	os.Exit(oldshim.Main(context.Background(), oldshim.IO{
		Args: os.Args[1:], Env: environ(), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
	}))
}

func environ() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			env[k] = v
		}
	}
	return env
}
