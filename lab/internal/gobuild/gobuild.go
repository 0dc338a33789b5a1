// Package gobuild builds commands of published Go modules into the version cache through a
// throwaway module, the way `go install mod/cmd@version` would when that command refuses to
// (replace directives, or a main package that must be edited first).
package gobuild

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/multus-thick/multus-thick/lab/internal/atomicfile"
	"github.com/multus-thick/multus-thick/lab/internal/run"
)

// GoVersion is the go directive of generated modules.
const GoVersion = "1.26.0"

// Request is one build.
type Request struct {
	Name     string            // throwaway module name, also its directory under WorkDir
	WorkDir  string            // parent of the module directory (kept, so the next build is warm)
	Requires map[string]string // module path -> version, fetched with go get
	Files    map[string][]byte // extra files written into the module (e.g. an edited main package)
	// Outputs maps a package (relative "./" for the module's own main package) to the binary path.
	Outputs map[string]string
	LDFlags string
	CGO     bool
}

// Build runs the request with r (whose Log gets the go command's output). Outputs that exist
// are skipped; each binary is written atomically.
func Build(ctx context.Context, r run.Runner, req Request) error {
	missing := map[string]string{}
	for pkg, out := range req.Outputs {
		if !Exists(out) {
			missing[pkg] = out
		}
	}
	if len(missing) == 0 {
		return nil
	}
	dir := filepath.Join(req.WorkDir, req.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	r.Dir = dir
	cgo := "CGO_ENABLED=0"
	if req.CGO {
		cgo = "CGO_ENABLED=1"
	}
	r.Env = append(inherit(r.Env), cgo, "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	if !Exists(filepath.Join(dir, "go.mod")) {
		mod := fmt.Sprintf("module local/%s\n\ngo %s\n", req.Name, GoVersion)
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
			return err
		}
	}
	for name, data := range req.Files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	// Not `go get mod@version`: it loads mod's root package too, and flannel's imports a
	// backend whose module the proxy refuses. -mod=mod fills go.mod and go.sum with only
	// what the packages we build import.
	for mod, version := range req.Requires {
		if err := r.Run(ctx, "go", "mod", "edit", "-require="+mod+"@"+version); err != nil {
			return fmt.Errorf("require %s@%s: %w", mod, version, err)
		}
	}
	for pkg, out := range missing {
		if err := buildOne(ctx, r, pkg, out, req.LDFlags); err != nil {
			return err
		}
	}
	return nil
}

func buildOne(ctx context.Context, r run.Runner, pkg, out, ldflags string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	// Durable: a cached binary counts as built because it exists.
	return atomicfile.Replace(out, atomicfile.Durable, func(tmp string) error {
		args := []string{"build", "-trimpath", "-o", tmp}
		if ldflags != "" {
			args = append(args, "-ldflags", ldflags)
		}
		if err := r.Run(ctx, "go", append(args, pkg)...); err != nil {
			return fmt.Errorf("build %s: %w", pkg, err)
		}
		return nil
	})
}

// ModuleDir downloads mod@version into the module cache if needed and returns its directory
// and go.mod file.
func ModuleDir(ctx context.Context, r run.Runner, mod, version string) (dir, goMod string, err error) {
	r.Env = append(inherit(r.Env), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	out, err := r.Output(ctx, "go", "mod", "download", "-json", mod+"@"+version)
	if err != nil {
		return "", "", fmt.Errorf("download %s@%s: %w", mod, version, err)
	}
	var info struct{ Dir, GoMod, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", "", fmt.Errorf("parse go mod download: %w", err)
	}
	if info.Error != "" {
		return "", "", errors.New(info.Error)
	}
	return info.Dir, info.GoMod, nil
}

// Exists reports whether path exists and is not empty.
func Exists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Size() > 0
}

func inherit(env []string) []string {
	if env != nil {
		return append([]string(nil), env...)
	}
	return os.Environ()
}
