// Command multus-shim is the CNI plugin the runtime executes; it forwards
// each invocation to multus-daemon over a unix socket.
package main

import (
	"context"
	"os"
	"strings"

	"github.com/multus-thick/multus-thick/src/internal/shim"
)

func main() {
	os.Exit(shim.Main(context.Background(), shim.IO{
		Args:   os.Args[1:],
		Env:    environ(),
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
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
