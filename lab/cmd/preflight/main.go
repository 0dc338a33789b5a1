// Command preflight makes this machine have every host program the project executes
// (lab/internal/prereq's table), installing missing Debian packages with apt. `make preflight`
// runs it first in `make lab-up` and `make test`; -check only reports.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/multus-thick/multus-thick/lab/internal/prereq"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "preflight: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("preflight", flag.ContinueOnError)
	fs.SetOutput(stderr)
	checkOnly := fs.Bool("check", false, "report what is missing, install nothing")
	list := fs.Bool("list", false, "print the prerequisites table and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *list {
		for _, t := range prereq.Toolchains {
			fmt.Fprintf(stdout, "%-16s %s\n", "(toolchain)", t.Command)
		}
		for _, p := range prereq.Packages {
			fmt.Fprintf(stdout, "%-16s %v %v\n", p.Name, p.Commands, p.Files)
		}
		return nil
	}
	return prereq.System().Ensure(ctx, prereq.Packages, prereq.Toolchains,
		prereq.Options{CheckOnly: *checkOnly, Out: stdout, Log: stderr})
}
