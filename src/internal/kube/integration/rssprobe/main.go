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
	"runtime"
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
	// The Go heap after a collection, to tell live data from memory the
	// runtime has not returned to the OS yet.
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("synced pods=%d heap_alloc_kib=%d heap_sys_kib=%d sys_kib=%d\n",
		c.CachedPods(), ms.HeapAlloc>>10, ms.HeapSys>>10, ms.Sys>>10)
	<-ctx.Done()
	return 0
}
