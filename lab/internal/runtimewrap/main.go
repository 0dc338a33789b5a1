package runtimewrap

import (
	"fmt"
	"os"
	"syscall"

	"github.com/multus-thick/multus-thick/lab/internal/atomicfile"
)

// DefaultRealRunc is Debian's runc, the one docker.io would run without the wrapper.
const DefaultRealRunc = "/usr/sbin/runc"

// Dropped are the capabilities the host's bounding set lacks.
var Dropped = []string{"CAP_SYS_RESOURCE"}

// Main edits the spec named by argv and execs realRunc (DefaultRealRunc when empty) with the
// same arguments. It returns only on failure.
func Main(argv []string, realRunc string) error {
	if realRunc == "" {
		realRunc = DefaultRealRunc
	}
	cwd, _ := os.Getwd()
	inv := Parse(argv[1:], cwd)
	if inv.SpecPath != "" {
		if err := editFile(inv.SpecPath, inv.ProcessOnly); err != nil {
			return err
		}
	}
	argv0 := append([]string{realRunc}, argv[1:]...)
	return fmt.Errorf("exec %s: %w", realRunc, syscall.Exec(realRunc, argv0, os.Environ()))
}

func editFile(path string, processOnly bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	out, changed, err := DropCaps(data, processOnly, Dropped)
	if err != nil {
		return fmt.Errorf("spec %s: %w", path, err)
	}
	if !changed {
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	// Not durable: the spec lives as long as the container, which a crash ends, and a
	// flush here would delay every container start.
	if err := atomicfile.WriteFile(path, out, st.Mode().Perm(), atomicfile.NotDurable); err != nil {
		return fmt.Errorf("write spec: %w", err)
	}
	return nil
}
