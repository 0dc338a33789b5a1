package prereq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"
)

// Missing is one absent command or file and the package that brings it.
type Missing struct {
	Package string // empty for a toolchain
	Program string // the command name or the absolute path
	Why     string
}

func (m Missing) String() string {
	if m.Package == "" {
		return fmt.Sprintf("%s (%s)", m.Program, m.Why)
	}
	return fmt.Sprintf("%s from %s (%s)", m.Program, m.Package, m.Why)
}

// Host is what the preflight needs from the machine; tests fake it.
type Host struct {
	LookPath func(string) (string, error)
	Stat     func(string) (os.FileInfo, error)
	// Run runs a command with its output going to the log.
	Run func(ctx context.Context, log io.Writer, name string, args ...string) error
}

// System is the real machine.
func System() Host {
	return Host{
		LookPath: exec.LookPath,
		Stat:     os.Stat,
		Run: func(ctx context.Context, log io.Writer, name string, args ...string) error {
			cmd := exec.CommandContext(ctx, name, args...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			cmd.Stdout, cmd.Stderr = log, log
			return cmd.Run()
		},
	}
}

// Check lists what is missing, toolchains first, then packages in table order.
func (h Host) Check(pkgs []Package, tools []Toolchain) []Missing {
	var out []Missing
	for _, t := range tools {
		if _, err := h.LookPath(t.Command); err != nil {
			out = append(out, Missing{Program: t.Command, Why: t.Why})
		}
	}
	for _, p := range pkgs {
		for _, c := range p.Commands {
			if _, err := h.LookPath(c); err != nil {
				out = append(out, Missing{Package: p.Name, Program: c, Why: p.Why})
			}
		}
		for _, f := range p.Files {
			if _, err := h.Stat(f); err != nil {
				out = append(out, Missing{Package: p.Name, Program: f, Why: p.Why})
			}
		}
	}
	return out
}

// ErrMissing is returned when something is still missing after the preflight did what it could.
var ErrMissing = errors.New("host prerequisites missing")

// Options tune Ensure.
type Options struct {
	// CheckOnly reports what is missing without installing it.
	CheckOnly bool
	// Out receives the preflight's few human lines; Log the output of apt.
	Out, Log io.Writer
	// AptTimeout bounds `apt-get update` plus `apt-get install`.
	AptTimeout time.Duration
}

// Ensure checks the table and installs every missing package with one `apt-get update` and one
// `apt-get install`, then checks again. It fails at once, naming each package and the program
// that needs it, when a toolchain is missing, apt-get is absent or apt cannot install.
func (h Host) Ensure(ctx context.Context, pkgs []Package, tools []Toolchain, o Options) error {
	start := time.Now()
	missing := h.Check(pkgs, tools)
	if len(missing) == 0 {
		fmt.Fprintf(o.Out, "preflight: %d host prerequisites present (%s)\n", count(pkgs, tools), since(start))
		return nil
	}
	if err := missingToolchain(missing); err != nil {
		return err
	}
	names := packageNames(missing)
	if o.CheckOnly {
		return fmt.Errorf("%w: %s", ErrMissing, describe(missing))
	}
	if _, err := h.LookPath("apt-get"); err != nil {
		return fmt.Errorf("%w and there is no apt-get to install them: install %s yourself: %s",
			ErrMissing, strings.Join(names, " "), describe(missing))
	}
	for _, m := range missing {
		fmt.Fprintf(o.Out, "preflight: missing %s\n", m)
	}
	fmt.Fprintf(o.Out, "preflight: installing with apt: %s\n", strings.Join(names, " "))
	timeout := o.AptTimeout
	if timeout <= 0 {
		timeout = 15 * time.Minute
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := h.Run(actx, o.Log, "apt-get", "update", "-q"); err != nil {
		return fmt.Errorf("apt-get update (needed to install %s): %w", strings.Join(names, " "), err)
	}
	args := append([]string{"install", "-y", "-q", "--no-install-recommends"}, names...)
	if err := h.Run(actx, o.Log, "apt-get", args...); err != nil {
		return fmt.Errorf("apt-get install %s: %w (needed for %s)", strings.Join(names, " "), err, describe(missing))
	}
	if still := h.Check(pkgs, tools); len(still) > 0 {
		return fmt.Errorf("%w after installing %s: %s", ErrMissing, strings.Join(names, " "), describe(still))
	}
	fmt.Fprintf(o.Out, "preflight: installed %s (%s)\n", strings.Join(names, " "), since(start))
	return nil
}

func missingToolchain(missing []Missing) error {
	var tools []string
	for _, m := range missing {
		if m.Package == "" {
			tools = append(tools, m.String())
		}
	}
	if len(tools) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s: apt cannot install a usable one", ErrMissing, strings.Join(tools, "; "))
}

func packageNames(missing []Missing) []string {
	seen := map[string]bool{}
	var names []string
	for _, m := range missing {
		if m.Package != "" && !seen[m.Package] {
			seen[m.Package] = true
			names = append(names, m.Package)
		}
	}
	sort.Strings(names)
	return names
}

func describe(missing []Missing) string {
	parts := make([]string, len(missing))
	for i, m := range missing {
		parts[i] = m.String()
	}
	return strings.Join(parts, "; ")
}

func count(pkgs []Package, tools []Toolchain) int {
	n := len(tools)
	for _, p := range pkgs {
		n += len(p.Commands) + len(p.Files)
	}
	return n
}

func since(t time.Time) time.Duration {
	return time.Since(t).Round(time.Millisecond)
}
