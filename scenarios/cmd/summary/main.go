// Command summary turns `go test -json` output into a table of scenarios
// (test/feature), result and seconds, printed after the run, and with
// -junit into a JUnit XML report for CI systems (one testcase per
// assessment; a failure carries the test's output and the diagnosis the
// suite printed). With -stream it also echoes the tests' own output as it
// arrives, so a CI log reads like `go test -v`. It exits 1 when any test
// or package failed, a test did not finish, or nothing ran, so it can end
// a pipeline (`set -o pipefail` keeps go test's own status too).
//
//	go test -json -tags e2e ./scenarios/ | go run ./scenarios/cmd/summary -stream -junit _artifacts/e2e/junit.xml
//
// It carries no build tag so it builds and runs anywhere.
package main

import (
	"os"
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
