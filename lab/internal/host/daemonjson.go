package host

import (
	"encoding/json"
	"fmt"
)

// RuntimeName is the name docker knows the wrapper by.
const RuntimeName = "mt-runc"

// MergeDaemonJSON returns existing (docker's daemon.json, possibly empty) with the wrapper
// registered as a runtime and made the default. Every other setting, and every other runtime,
// is kept. changed is false when existing already says so.
func MergeDaemonJSON(existing []byte, wrapperPath string) (out []byte, changed bool, err error) {
	cfg := map[string]any{}
	if len(existing) > 0 {
		if err := json.Unmarshal(existing, &cfg); err != nil {
			return nil, false, fmt.Errorf("parse daemon.json: %w", err)
		}
		if cfg == nil { // the file said "null"
			cfg = map[string]any{}
		}
	}
	runtimes, _ := cfg["runtimes"].(map[string]any)
	if runtimes == nil {
		if _, present := cfg["runtimes"]; present {
			return nil, false, fmt.Errorf("daemon.json: runtimes is not an object")
		}
		runtimes = map[string]any{}
	}
	cur, _ := runtimes[RuntimeName].(map[string]any)
	if cur != nil && cur["path"] == wrapperPath && cfg["default-runtime"] == RuntimeName {
		return existing, false, nil
	}
	runtimes[RuntimeName] = map[string]any{"path": wrapperPath}
	cfg["runtimes"] = runtimes
	cfg["default-runtime"] = RuntimeName
	out, err = json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, false, err
	}
	return append(out, '\n'), true, nil
}
