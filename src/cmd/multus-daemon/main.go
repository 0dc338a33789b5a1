// Command multus-daemon is the long-running per-node Multus server: the
// shim forwards every CNI invocation to it over a unix socket.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/multus-thick/multus-thick/src/internal/daemon"
)

func main() {
	// SIGTERM/SIGINT start the graceful stop: /readyz fails, in-flight
	// requests drain, 00-multus.conf stays.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := daemon.Main(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}
