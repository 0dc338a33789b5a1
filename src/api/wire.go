package api

import (
	"encoding/json"
	"path/filepath"
)

// Socket layout and endpoints shared by both sides of the socket.
const (
	// DefaultSocketDir is where the daemon listens unless daemon-config's
	// socketDir (daemon side) or the shim config's daemonSocketDir says otherwise.
	DefaultSocketDir = "/run/multus/"
	// SocketName is the file name of the socket inside the socket dir.
	SocketName = "multus.sock"

	// BaseURL is the URL prefix clients use; the host part is never checked,
	// because every request is dialled to the unix socket.
	BaseURL = "http://dummy"

	PathCNI      = "/cni"
	PathDelegate = "/delegate"
	PathHealthz  = "/healthz"
	PathReadyz   = "/readyz"
)

// Names of the CNI environment variables carried in Request.Env.
const (
	EnvCommand     = "CNI_COMMAND"
	EnvContainerID = "CNI_CONTAINERID"
	EnvNetns       = "CNI_NETNS"
	EnvIfName      = "CNI_IFNAME"
	EnvArgs        = "CNI_ARGS"
	EnvPath        = "CNI_PATH"
)

// SocketPath returns the socket file inside dir; an empty dir means
// DefaultSocketDir.
func SocketPath(dir string) string {
	if dir == "" {
		dir = DefaultSocketDir
	}
	return filepath.Join(dir, SocketName)
}

// Request is the body of POST /cni and POST /delegate.
type Request struct {
	// Env holds the CNI_* variables of the invocation. Upstream's shim sends
	// its whole environment; ours sends only the CNI variables. The daemon
	// reads only the CNI variables either way.
	Env map[string]string `json:"env,omitempty"`
	// Config is the runtime's stdin (the CNI network config), byte for byte.
	// encoding/json encodes it as a base64 string, as upstream does.
	Config []byte `json:"config,omitempty"`
	// InterfaceAttributes is set only for /delegate (hot-plug) requests.
	InterfaceAttributes *InterfaceAttributes `json:"interfaceAttributes,omitempty"`
}

// InterfaceAttributes carries the per-interface overrides of a /delegate call.
type InterfaceAttributes struct {
	IPRequest  []string `json:"ips,omitempty"`
	MacRequest string   `json:"mac,omitempty"`
	// CNIArgs has no omitempty: upstream emits "cni-args": null when absent,
	// and a byte-compatible encoder keeps that.
	CNIArgs *map[string]any `json:"cni-args"`
}

// Response is the body of a successful ADD. The key is "Result" with a capital
// R because upstream's struct has no json tag; DEL, CHECK, GC and STATUS
// answer 200 with an empty body.
type Response struct {
	// Result is a CNI result in the 1.0.0 format.
	Result json.RawMessage `json:"Result,omitempty"`
}
