// Command mt-bench measures what a thick CNI meta-plugin costs a node, side
// by side with the delegates invoked directly (see package bench).
package main

import (
	"os"

	"github.com/multus-thick/multus-thick/src/internal/bench/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}
