// Command pins prints the lab's version pins (lab/internal/pins) as make assignments; the
// Makefile includes its output.
package main

import (
	"fmt"
	"os"

	"github.com/multus-thick/multus-thick/lab/internal/pins"
)

func main() {
	if err := pins.WriteMake(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pins:", err)
		os.Exit(1)
	}
}
