package api

import "encoding/json"

// ShimConf is the shim's share of 00-multus.conf: the keys the daemon copies
// there from daemon-config.json and the shim reads back from its stdin. Both
// sides use this one struct, so a key cannot be renamed on one side only.
// Durations stay strings as written (Go duration syntax); the shim applies
// its defaults and bounds. Every other key of the file is the daemon's and
// reaches it untouched inside the request's config bytes.
type ShimConf struct {
	CNIVersion string `json:"cniVersion,omitempty"`
	// DaemonSocketDir is the socket dir as the host sees it (the daemon's
	// socketDir may be its own mount of it).
	DaemonSocketDir string `json:"daemonSocketDir,omitempty"`
	LogFile         string `json:"logFile,omitempty"`
	LogLevel        string `json:"logLevel,omitempty"`
	LogToStderr     bool   `json:"logToStderr,omitempty"`
	// ReadinessTimeout bounds the shim's wait for the daemon's health.
	ReadinessTimeout string `json:"shimReadinessTimeout,omitempty"`
	// Timeout bounds one whole shim invocation.
	Timeout string `json:"shimTimeout,omitempty"`
	// ReportDelErrors makes the shim fail a DEL the daemon failed.
	ReportDelErrors bool `json:"reportDelErrors,omitempty"`
}

// Keys returns the set keys as JSON values, ready to be merged into a
// generated config. Unset (zero) keys are left out, so the shim's defaults
// apply to them.
func (c ShimConf) Keys() map[string]json.RawMessage {
	// Neither step can fail: the struct holds only strings and bools, and
	// its encoding is a JSON object.
	b, _ := json.Marshal(c)
	var out map[string]json.RawMessage
	_ = json.Unmarshal(b, &out)
	return out
}
