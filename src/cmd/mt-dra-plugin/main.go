// Command mt-dra-plugin is a DRA kubelet plugin for tests: it publishes a
// few fake network devices for its node, with the attributes multus reads,
// and writes their device-info files when the kubelet prepares a claim.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/multus-thick/multus-thick/src/internal/fakedra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := fakedra.Main(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}
