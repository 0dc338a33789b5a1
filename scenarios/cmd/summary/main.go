// Command summary turns `go test -json` output into a table of scenarios
// (test/feature), result and seconds, printed after the run. With -stream
// it also echoes the tests' own output as it arrives, so a CI log reads
// like `go test -v`. It exits 1 when any test or package failed, so it can
// end a pipeline (`set -o pipefail` keeps go test's own status too).
//
//	go test -json -tags e2e ./scenarios/ | go run ./scenarios/cmd/summary -stream
//
// It carries no build tag so it builds and runs anywhere.
package main

import (
	"os"
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
