// Package runtimewrap holds the logic of mt-runc, the OCI runtime wrapper docker uses on hosts
// whose capability bounding set lacks capabilities that privileged containers ask for.
//
// Why: on our VMs the bounding set has no CAP_SYS_RESOURCE, so runc fails every privileged
// container ("unable to apply caps: operation not permitted") and kind runs every node
// privileged. Docker 20.10 ignores --cap-drop with --privileged, so the fix sits below docker:
// the wrapper removes the missing capabilities from the OCI spec runc is about to apply.
package runtimewrap

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// capSets are the capability lists of an OCI process spec.
var capSets = []string{"bounding", "effective", "inheritable", "permitted", "ambient"}

// Invocation is what the wrapper needs to know about one runc command line.
type Invocation struct {
	Command string // create, run, exec, ...
	// SpecPath is the file to edit: <bundle>/config.json for create and run,
	// the --process file for exec; empty when there is nothing to edit.
	SpecPath string
	// ProcessOnly is true when SpecPath holds a bare process object (exec --process).
	ProcessOnly bool
}

// globalValueFlags are runc's global flags that take a separate value.
var globalValueFlags = map[string]bool{"--log": true, "--log-format": true, "--root": true, "--criu": true, "--rootless": true}

// Parse reads a runc command line (without argv[0]). cwd is the bundle when create/run name none.
func Parse(args []string, cwd string) Invocation {
	i := 0
	for i < len(args) {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			break
		}
		if globalValueFlags[a] {
			i++
		}
		i++
	}
	if i >= len(args) {
		return Invocation{}
	}
	inv := Invocation{Command: args[i]}
	sub := args[i+1:]
	switch inv.Command {
	case "create", "run":
		bundle := flagValue(sub, "--bundle", "-b")
		if bundle == "" {
			bundle = cwd
		}
		inv.SpecPath = strings.TrimSuffix(bundle, "/") + "/config.json"
	case "exec":
		if p := flagValue(sub, "--process", "-p"); p != "" {
			inv.SpecPath, inv.ProcessOnly = p, true
		}
	}
	return inv
}

func flagValue(args []string, long, short string) string {
	for i, a := range args {
		if a == "--" {
			return ""
		}
		for _, f := range []string{long, short} {
			if a == f && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, f+"="); ok {
				return v
			}
		}
	}
	return ""
}

// DropCaps removes caps (e.g. "CAP_SYS_RESOURCE") from every capability set of spec, a full
// OCI config (processOnly false) or a bare process object (true). Unknown fields are kept
// verbatim. changed is false when no capability had to go, so the caller can skip the write.
func DropCaps(spec []byte, processOnly bool, caps []string) (out []byte, changed bool, err error) {
	if processOnly {
		return dropFromProcess(spec, caps)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, false, fmt.Errorf("parse spec: %w", err)
	}
	proc, ok := doc["process"]
	if !ok {
		return spec, false, nil
	}
	newProc, changed, err := dropFromProcess(proc, caps)
	if err != nil || !changed {
		return spec, false, err
	}
	doc["process"] = newProc
	out, err = json.Marshal(doc)
	return out, err == nil, err
}

func dropFromProcess(raw []byte, caps []string) ([]byte, bool, error) {
	var proc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &proc); err != nil {
		return nil, false, fmt.Errorf("parse process: %w", err)
	}
	capsRaw, ok := proc["capabilities"]
	if !ok || string(capsRaw) == "null" {
		return raw, false, nil
	}
	var sets map[string]json.RawMessage
	if err := json.Unmarshal(capsRaw, &sets); err != nil {
		return nil, false, fmt.Errorf("parse capabilities: %w", err)
	}
	changed := false
	for _, name := range capSets {
		setRaw, ok := sets[name]
		if !ok {
			continue
		}
		var list []string
		if err := json.Unmarshal(setRaw, &list); err != nil {
			return nil, false, fmt.Errorf("parse capabilities.%s: %w", name, err)
		}
		kept := slices.DeleteFunc(slices.Clone(list), func(c string) bool { return slices.Contains(caps, c) })
		if len(kept) == len(list) {
			continue
		}
		changed = true
		if sets[name], _ = json.Marshal(kept); kept == nil {
			sets[name] = json.RawMessage("[]")
		}
	}
	if !changed {
		return raw, false, nil
	}
	var err error
	if proc["capabilities"], err = json.Marshal(sets); err != nil {
		return nil, false, err
	}
	out, err := json.Marshal(proc)
	return out, err == nil, err
}
