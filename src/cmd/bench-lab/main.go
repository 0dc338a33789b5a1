// Command bench-lab is the lab density benchmark (`make bench-lab`): pods
// with and without a macvlan attachment, and flannel alone, on the kind lab
// (see package density).
package main

import (
	"os"

	"github.com/multus-thick/multus-thick/src/internal/density"
)

func main() {
	os.Exit(density.Main(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
