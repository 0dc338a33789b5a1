// Command rssprobe starts only the daemon's Kubernetes side (client,
// node-filtered pod cache, NAD cache) and idles, so the integration tier
// can measure what the caches cost in resident memory without the test
// binary's own weight. Usage: rssprobe <kubeconfig> <node>.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/multus-thick/multus-thick/src/internal/kube"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: rssprobe <kubeconfig> <node>")
		return 2
	}
	c, err := kube.New(kube.Config{Kubeconfig: args[0], NodeName: args[1], SyncTimeout: time.Minute},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Bounded: the parent kills it long before.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("synced pods=%d\n", c.CachedPods())
	<-ctx.Done()
	return 0
}
