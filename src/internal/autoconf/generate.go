// Package autoconf is the daemon's "auto" mode (multus-thick-behaviour.md
// §3.5): it finds the node's primary CNI config, generates 00-multus.conf
// from it and keeps that file in step with the primary while the daemon
// runs. It also installs a user-provided config in non-auto mode and waits
// for the readiness indicator file.
//
// Unlike upstream, 00-multus.conf is always written atomically and never
// empty: a primary that cannot be read keeps the last good file, and a
// primary that disappears switches to the next candidate or, with none
// left, keeps the last file (fail closed) rather than deleting it.
package autoconf

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/containernetworking/cni/pkg/version"
)

// ConfName is the generated file's name. It sorts first, so the runtime
// picks it over the primary.
const ConfName = "00-multus.conf"

// Errors of generation.
var (
	// ErrNoPrimary: no candidate primary config in the autoconfig dir.
	ErrNoPrimary = errors.New("no primary CNI config found")
	// ErrIncompatible: the primary's cniVersion is below what Multus'
	// cniVersion needs. Waiting does not fix it.
	ErrIncompatible = errors.New("incompatible CNI versions")
)

// primary is the part of the primary config that generation reads.
type primary struct {
	CNIVersion   string                     `json:"cniVersion"`
	Name         string                     `json:"name"`
	Type         string                     `json:"type"`
	Capabilities map[string]json.RawMessage `json:"capabilities"`
	Plugins      []struct {
		Type         string                     `json:"type"`
		Capabilities map[string]json.RawMessage `json:"capabilities"`
	} `json:"plugins"`
}

// Spec is what the generated config is made of, apart from the primary.
type Spec struct {
	// CNIVersion is Multus' cniVersion; required.
	CNIVersion string
	// Type is the plugin the runtime runs ("multus-shim").
	Type string
	// Name is the network name unless OverrideNetworkName.
	Name string
	// OverrideNetworkName names the Multus network after the primary.
	OverrideNetworkName bool
	// Capabilities are merged with the primary's enabled ones.
	Capabilities map[string]bool
	// Extra keys copied into the file as they are (binDir, logFile,
	// daemonSocketDir, ...).
	Extra map[string]json.RawMessage
}

// Generate builds 00-multus.conf from the primary config at primaryPath
// (its bytes in data). The result is deterministic (sorted keys), so an
// unchanged primary yields byte-identical output.
func Generate(spec Spec, primaryPath string, data []byte) ([]byte, error) {
	p, err := parsePrimary(primaryPath, data)
	if err != nil {
		return nil, err
	}
	if err := checkVersions(spec.CNIVersion, p.CNIVersion, primaryPath); err != nil {
		return nil, err
	}
	caps, err := mergeCapabilities(spec.Capabilities, p, primaryPath)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for k, v := range spec.Extra {
		out[k] = v
	}
	out["cniVersion"] = spec.CNIVersion
	out["type"] = spec.Type
	out["name"] = spec.Name
	if spec.OverrideNetworkName && p.Name != "" {
		out["name"] = p.Name
	}
	if len(caps) > 0 {
		out["capabilities"] = caps
	}
	// The daemon re-reads the primary from this path on every ADD, so it
	// is the daemon's own view of the file.
	out["clusterNetwork"] = primaryPath
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", ConfName, err)
	}
	return append(b, '\n'), nil
}

func parsePrimary(path string, data []byte) (*primary, error) {
	p := &primary{}
	if err := json.Unmarshal(data, p); err != nil {
		return nil, fmt.Errorf("primary CNI config %s: %w", path, err)
	}
	if p.Type == "" && (len(p.Plugins) == 0 || p.Plugins[0].Type == "") {
		return nil, fmt.Errorf("primary CNI config %s: no \"type\" and no typed \"plugins\"", path)
	}
	return p, nil
}

// checkVersions is upstream's compatibility rule: a Multus config at
// 0.4.0 or later needs a primary at 0.4.0 or later (CHECK and prevResult
// semantics start there).
func checkVersions(multusVersion, primaryVersion, path string) error {
	newMultus, err := version.GreaterThanOrEqualTo(multusVersion, "0.4.0")
	if err != nil {
		return fmt.Errorf("%w: Multus cniVersion %q: %w", ErrIncompatible, multusVersion, err)
	}
	if !newMultus {
		return nil
	}
	ok, err := version.GreaterThanOrEqualTo(primaryVersion, "0.4.0")
	if err != nil {
		return fmt.Errorf("%w: primary %s cniVersion %q: %w", ErrIncompatible, path, primaryVersion, err)
	}
	if !ok {
		return fmt.Errorf("%w: primary %s has cniVersion %s while Multus' is %s (needs 0.4.0 or later)",
			ErrIncompatible, path, primaryVersion, multusVersion)
	}
	return nil
}

// mergeCapabilities adds every capability the primary (or any plugin of a
// conflist) enables. A non-bool value is an error (upstream panics).
func mergeCapabilities(base map[string]bool, p *primary, path string) (map[string]bool, error) {
	out := map[string]bool{}
	for k, v := range base {
		out[k] = v
	}
	sets := []map[string]json.RawMessage{p.Capabilities}
	for _, pl := range p.Plugins {
		sets = append(sets, pl.Capabilities)
	}
	for _, set := range sets {
		names := make([]string, 0, len(set))
		for k := range set {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, name := range names {
			var on bool
			if err := json.Unmarshal(set[name], &on); err != nil {
				return nil, fmt.Errorf("primary CNI config %s: capability %q is %s, not a bool", path, name, set[name])
			}
			if on {
				out[name] = true
			}
		}
	}
	return out, nil
}
