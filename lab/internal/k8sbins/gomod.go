// Package k8sbins builds Kubernetes' commands (and etcd) from the k8s.io/kubernetes module
// into the version cache, through a generated wrapper module.
//
// Why a wrapper: `go install k8s.io/kubernetes/cmd/...@vX` fails because kubernetes' go.mod
// replaces its staging modules (k8s.io/api, k8s.io/client-go, ...) with ./staging paths. A
// module that requires k8s.io/kubernetes and replaces every staging module with its published
// v0.<minor>.<patch> builds. The staging list is read from kubernetes' own go.mod at run time,
// so a new version brings its new staging modules along.
package k8sbins

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// WrapperModule is the wrapper's module path. It matches the hand-made wrapper this package
// replaced, so builds share Go's build cache.
const WrapperModule = "local/k8swrap"

// Replace is one replace directive of a go.mod, as `go mod edit -json` prints it.
type Replace struct {
	Old struct{ Path, Version string }
	New struct{ Path, Version string }
}

// ParseModEditJSON reads the Replace list from `go mod edit -json` output.
func ParseModEditJSON(data []byte) ([]Replace, error) {
	var mod struct{ Replace []Replace }
	if err := json.Unmarshal(data, &mod); err != nil {
		return nil, fmt.Errorf("parse go mod edit -json: %w", err)
	}
	return mod.Replace, nil
}

// StagingVersion maps a Kubernetes version (v1.37.2) to its staging modules' (v0.37.2).
func StagingVersion(k8sVersion string) (string, error) {
	rest, ok := strings.CutPrefix(k8sVersion, "v1.")
	if !ok || strings.Count(rest, ".") != 1 {
		return "", fmt.Errorf("kubernetes version %q is not v1.<minor>.<patch>", k8sVersion)
	}
	return "v0." + rest, nil
}

// StagingModules are the modules kubernetes' go.mod points at its ./staging tree.
func StagingModules(replaces []Replace) []string {
	var mods []string
	for _, r := range replaces {
		if strings.HasPrefix(r.New.Path, "./staging/") && r.New.Version == "" {
			mods = append(mods, r.Old.Path)
		}
	}
	sort.Strings(mods)
	return mods
}

// GenerateGoMod writes the wrapper's go.mod: require k8s.io/kubernetes at k8sVersion and
// replace every staging module by its published version. goVersion is the go directive.
func GenerateGoMod(k8sVersion, goVersion string, replaces []Replace) ([]byte, error) {
	staging, err := StagingVersion(k8sVersion)
	if err != nil {
		return nil, err
	}
	mods := StagingModules(replaces)
	if len(mods) == 0 {
		return nil, fmt.Errorf("no staging replace directives in kubernetes %s go.mod", k8sVersion)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "module %s\n\ngo %s\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n", WrapperModule, goVersion, k8sVersion)
	for _, m := range mods {
		fmt.Fprintf(&b, "\t%s => %s %s\n", m, m, staging)
	}
	b.WriteString(")\n")
	return b.Bytes(), nil
}

// GenerateTools writes the tools.go that makes `go mod tidy` keep every package we build.
func GenerateTools(pkgs []string) []byte {
	var b bytes.Buffer
	b.WriteString("//go:build tools\n\npackage tools\n\nimport (\n")
	for _, p := range pkgs {
		fmt.Fprintf(&b, "\t_ %q\n", p)
	}
	b.WriteString(")\n")
	return b.Bytes()
}
