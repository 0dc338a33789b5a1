// Command install-multus is the DaemonSet's init container: it installs the
// shim (and any other named binaries) into the host CNI bin dir atomically.
//
//	install-multus -dst-dir /host/opt/cni/bin /usr/src/multus-cni/bin/multus-shim /usr/src/multus-cni/bin/passthru
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/multus-thick/multus-thick/src/internal/install"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("install-multus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dstDir := fs.String("dst-dir", "/host/opt/cni/bin", "host CNI bin dir to install into")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := install.Files(*dstDir, fs.Args()); err != nil {
		fmt.Fprintln(stderr, "install-multus:", err)
		return 1
	}
	for _, f := range fs.Args() {
		fmt.Fprintf(stdout, "installed %s into %s\n", f, *dstDir)
	}
	return 0
}
