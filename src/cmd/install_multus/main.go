// Command install_multus is the DaemonSet's init container, with upstream's
// name and flags: it installs the plugin binaries of a Multus type from its
// own directory into the host CNI bin dir, as one atomic set.
//
//	install_multus -t thick -d /host/opt/cni/bin        (multus-shim and passthru)
//
// The image also carries it as install-multus, and the earlier forms stay:
//
//	install_multus -dst-dir /host/opt/cni/bin FILE...
//	install_multus -src FILE -dst PATH
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/multus-thick/multus-thick/src/internal/install"
)

// typeBinaries are the binaries each -t type installs, as upstream's
// installer does: thick needs the shim and the auxiliary chain's head.
var typeBinaries = map[string][]string{
	"thick": {"multus-shim", "passthru"},
}

// refused are types upstream knows and this image cannot install.
var refused = map[string]string{
	"thin": "the thin plugin (multus) is not part of multus-thick, which is thick only; use -t thick",
}

func main() { os.Exit(run(os.Args[1:], selfDir, os.Stdout, os.Stderr)) }

// selfDir is the directory of the running executable: where the image keeps
// the binaries the installer copies.
func selfDir() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("locate the installer: %w", err)
	}
	return filepath.Dir(exe), nil
}

// errUsage marks a bad command line (exit 2); other errors are failed
// installs (exit 1).
var errUsage = errors.New("usage")

func run(args []string, srcDir func() (string, error), stdout, stderr io.Writer) int {
	msg, err := parseAndInstall(args, srcDir, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "install_multus:", strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
		return 2
	case err != nil:
		fmt.Fprintln(stderr, "install_multus:", err)
		return 1
	}
	fmt.Fprintln(stdout, msg)
	return 0
}

func usage(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// parseAndInstall parses args, installs, and returns what it did.
func parseAndInstall(args []string, srcDir func() (string, error), stderr io.Writer) (string, error) {
	fs := flag.NewFlagSet("install_multus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var typ, destDir string
	fs.StringVar(&typ, "t", "", "Multus type to install: thick (multus-shim and passthru)")
	fs.StringVar(&typ, "type", "", "same as -t")
	fs.StringVar(&destDir, "d", "", "host CNI bin dir to install into (must exist)")
	fs.StringVar(&destDir, "dest-dir", "", "same as -d")
	dstDir := fs.String("dst-dir", "/host/opt/cni/bin", "with FILE arguments: the dir to install them into")
	src := fs.String("src", "", "a single file to install (with -dst)")
	dst := fs.String("dst", "", "the destination path of -src")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", err
		}
		return "", fmt.Errorf("%w: %w", errUsage, err)
	}
	switch {
	case typ != "":
		if fs.NArg() > 0 || *src != "" || *dst != "" {
			return "", usage("-t installs the type's own binaries; name no files and no -src/-dst with it")
		}
		return installType(typ, destDir, srcDir)
	case destDir != "":
		return "", usage("-d %s names no type: add -t thick", destDir)
	case *src != "" || *dst != "":
		if *src == "" || *dst == "" || fs.NArg() > 0 {
			return "", usage("-src and -dst go together, without further arguments")
		}
		if err := install.File(*src, *dst); err != nil {
			return "", err
		}
		return fmt.Sprintf("installed %s as %s", *src, *dst), nil
	case fs.NArg() == 0:
		return "", usage("nothing to install: give -t thick -d DIR, or name files")
	}
	if err := install.Files(*dstDir, fs.Args()); err != nil {
		return "", err
	}
	return fmt.Sprintf("installed %s into %s", strings.Join(fs.Args(), ", "), *dstDir), nil
}

func installType(typ, destDir string, srcDir func() (string, error)) (string, error) {
	names, ok := typeBinaries[typ]
	if !ok {
		if why, known := refused[typ]; known {
			return "", usage("-t %s: %s", typ, why)
		}
		return "", usage("-t %q: unknown type (want thick)", typ)
	}
	if destDir == "" {
		return "", usage("-t %s needs -d/--dest-dir, the host CNI bin dir", typ)
	}
	dir, err := srcDir()
	if err != nil {
		return "", err
	}
	srcs := make([]string, len(names))
	for i, n := range names {
		srcs[i] = filepath.Join(dir, n)
	}
	if err := install.Files(destDir, srcs); err != nil {
		return "", err
	}
	return fmt.Sprintf("installed %s (%s) into %s", strings.Join(names, ", "), typ, destDir), nil
}
