// Command mt-repro-rec is the recorder `make repro-delegate` installs on the lab's nodes as
// /opt/cni/bin/mt-repro-<type>: it runs the real plugin <type> with the exact stdin and
// environment it got and records the call (see package callrec).
package main

import (
	"context"
	"os"
	"time"

	"github.com/multus-thick/multus-thick/src/internal/callrec"
)

func main() {
	root := callrec.DefaultRoot
	if dir := os.Getenv("MT_REPRO_RECORD_DIR"); dir != "" {
		root = dir // tests of the record format; the daemon never sets it
	}
	w := &callrec.Wrapper{
		Root: root, Self: os.Args[0], Environ: os.Environ(),
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Now: time.Now, PID: os.Getpid(),
	}
	// No deadline of its own: the daemon's delegate deadline kills the wrapper's process
	// group, the plugin included.
	os.Exit(w.Run(context.Background()))
}
