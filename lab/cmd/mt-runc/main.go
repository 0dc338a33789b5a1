// Command mt-runc is docker's default OCI runtime on lab hosts: it removes capabilities the
// host cannot grant from the spec, then execs the real runc. See lab/internal/runtimewrap.
package main

import (
	"fmt"
	"os"

	"github.com/multus-thick/multus-thick/lab/internal/runtimewrap"
)

func main() {
	err := runtimewrap.Main(os.Args, os.Getenv("MT_REAL_RUNC"))
	// Main only returns when it could not exec runc.
	fmt.Fprintf(os.Stderr, "mt-runc: %v\n", err)
	os.Exit(1)
}
