// Command install-multus is the DaemonSet's init container: it installs the
// shim (and any other named binaries) into the host CNI bin dir atomically.
//
//	install-multus -dst-dir /host/opt/cni/bin /usr/src/multus-cni/bin/multus-shim /usr/src/multus-cni/bin/passthru
//	install-multus -src /usr/src/multus-cni/bin/multus-shim -dst /host/opt/cni/bin/multus-shim
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
	dstDir := fs.String("dst-dir", "/host/opt/cni/bin", "host CNI bin dir to install the named files into")
	src := fs.String("src", "", "a single file to install (with -dst)")
	dst := fs.String("dst", "", "the destination path of -src")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *src != "" || *dst != "" {
		if *src == "" || *dst == "" || fs.NArg() > 0 {
			fmt.Fprintln(stderr, "install-multus: -src and -dst go together, without further arguments")
			return 2
		}
		if err := install.File(*src, *dst); err != nil {
			fmt.Fprintln(stderr, "install-multus:", err)
			return 1
		}
		fmt.Fprintf(stdout, "installed %s as %s\n", *src, *dst)
		return 0
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
