// Command cert-approver approves the CSRs of multus-thick's per-node client
// certificates (perNodeCertificate) and denies CSRs that claim that
// identity without the right shape or requester.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/multus-thick/multus-thick/src/internal/certapprover"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := certapprover.Main(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}
