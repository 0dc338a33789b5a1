// Command lab drives the offline kind lab: `go run ./lab/cmd/lab <command>`. The Makefile's
// Lab section is its front door; the commands live in lab/internal/actions.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/multus-thick/multus-thick/lab/internal/actions"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := actions.Run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Environ())
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "lab: %v\n", err)
		os.Exit(1)
	}
}
