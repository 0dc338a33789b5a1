package api

import "time"

// The delegate-call recorder's on-node layout: src/internal/callrec (the
// wrapper `make repro-delegate` installs as <bindir>/mt-repro-<type>) writes
// it and lab/internal/repro reads it back, so it is defined here once.
const (
	// CallRecordPrefix is the wrapper's name in front of the real plugin's type.
	CallRecordPrefix = "mt-repro-"
	// CallRecordRoot is where the wrapper records on the node (the daemon runs
	// delegates chrooted into the node's root, so this is the node's own /var/lib).
	CallRecordRoot = "/var/lib/mt-repro/calls"
)

// The files of one call directory.
const (
	CallFileMeta   = "meta.json"
	CallFileStdin  = "stdin"
	CallFileEnv    = "env"
	CallFileStdout = "stdout"
	CallFileStderr = "stderr"
	CallFileExit   = "exit.json"
)

// CallMeta is meta.json, written before the plugin starts.
type CallMeta struct {
	Command     string    `json:"command"`
	Type        string    `json:"type"`
	Plugin      string    `json:"plugin"`
	ContainerID string    `json:"containerID,omitempty"`
	IfName      string    `json:"ifname,omitempty"`
	Netns       string    `json:"netns,omitempty"`
	Namespace   string    `json:"namespace,omitempty"`
	Pod         string    `json:"pod,omitempty"`
	Start       time.Time `json:"start"`
	PID         int       `json:"pid"`
}

// CallExit is exit.json, written when the plugin ended; missing when the call
// never ended (killed with the recorder at the daemon's delegate deadline).
type CallExit struct {
	Code       int       `json:"code"`
	Signal     string    `json:"signal,omitempty"`
	DurationMs float64   `json:"durationMs"`
	End        time.Time `json:"end"`
	// Error says why the plugin could not be run at all (not found, not executable).
	Error string `json:"error,omitempty"`
}
