// Command multus-daemon is the long-running per-node Multus server: the
// shim forwards every CNI invocation to it over a unix socket.
package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/multus-thick/multus-thick/src/internal/daemon"
)

func main() {
	// SIGTERM/SIGINT start the graceful stop (/readyz fails, everything
	// else is served for shutdownDrainPeriod, in-flight requests finish,
	// 00-multus.conf stays); a second signal cuts the drain short.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	os.Exit(daemon.Main(signals, os.Args[1:], os.Stderr))
}
