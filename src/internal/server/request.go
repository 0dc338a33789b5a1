package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	cnitypes "github.com/containernetworking/cni/pkg/types"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/attach"
)

// CNI commands.
const (
	cmdAdd    = "ADD"
	cmdDel    = "DEL"
	cmdCheck  = "CHECK"
	cmdGC     = "GC"
	cmdStatus = "STATUS"
)

// DefaultIfName is used when the runtime sends no CNI_IFNAME (upstream's
// default).
const DefaultIfName = "eth0"

// decodedRequest is a decoded and validated /cni or /delegate request body.
type decodedRequest struct {
	Command     string
	ContainerID string
	Netns       string
	IfName      string
	CNIArgs     string
	Pod         attach.PodRef
	Config      []byte
	Attrs       *api.InterfaceAttributes
}

// decodeRequest parses and validates a /cni or /delegate body (§2.6). Every
// failure is a *cnitypes.Error naming the culprit: code 6 for a body that
// is not a request, 4 for a missing or malformed CNI variable.
func decodeRequest(body []byte, endpoint string) (*decodedRequest, *cnitypes.Error) {
	var req api.Request
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, cniErr(cnitypes.ErrDecodingFailure, "decode request body: %v", err)
	}
	cmd, ok := req.Env[api.EnvCommand]
	if !ok || cmd == "" {
		return nil, cniErr(cnitypes.ErrInvalidEnvironmentVariables, "missing %s", api.EnvCommand)
	}
	cmd = strings.ToUpper(cmd)
	if err := checkCommand(cmd, endpoint); err != nil {
		return nil, err
	}
	inv := &decodedRequest{
		Command:     cmd,
		ContainerID: req.Env[api.EnvContainerID],
		Netns:       req.Env[api.EnvNetns],
		IfName:      req.Env[api.EnvIfName],
		CNIArgs:     req.Env[api.EnvArgs],
		Config:      req.Config,
		Attrs:       req.InterfaceAttributes,
	}
	if inv.IfName == "" {
		inv.IfName = DefaultIfName
	}
	// STATUS and GC work on the config alone (§2.6 step 2); /delegate
	// always needs the pod, as upstream.
	if endpoint == api.PathDelegate || (cmd != cmdStatus && cmd != cmdGC) {
		// The keys must be present; CNI_CONTAINERID and CNI_NETNS may be
		// empty, as upstream allows.
		for _, key := range []string{api.EnvContainerID, api.EnvNetns, api.EnvArgs} {
			if _, ok := req.Env[key]; !ok {
				return nil, cniErr(cnitypes.ErrInvalidEnvironmentVariables, "%s: missing %s", cmd, key)
			}
		}
		pod, err := podFromArgs(inv.CNIArgs)
		if err != nil {
			return nil, err
		}
		inv.Pod = *pod
	}
	if len(inv.Config) == 0 {
		return nil, cniErr(cnitypes.ErrDecodingFailure, "%s: empty config", cmd)
	}
	return inv, nil
}

func checkCommand(cmd, endpoint string) *cnitypes.Error {
	switch cmd {
	case cmdAdd, cmdDel, cmdCheck, cmdStatus:
		return nil
	case cmdGC:
		if endpoint == api.PathDelegate {
			return cniErr(cnitypes.ErrInvalidEnvironmentVariables, "%s %s is not supported on %s", api.EnvCommand, cmd, endpoint)
		}
		return nil
	}
	return cniErr(cnitypes.ErrInvalidEnvironmentVariables, "unknown %s %q", api.EnvCommand, cmd)
}

// podFromArgs reads the pod identity from CNI_ARGS. Pairs are separated by
// ';' and split at their FIRST '=', so a value may contain '=' (upstream
// rejects such a request).
func podFromArgs(args string) (*attach.PodRef, *cnitypes.Error) {
	pod := &attach.PodRef{}
	for _, pair := range strings.Split(args, ";") {
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" {
			return nil, cniErr(cnitypes.ErrInvalidEnvironmentVariables, "%s: element %q is not KEY=VALUE", api.EnvArgs, pair)
		}
		switch k {
		case "K8S_POD_NAMESPACE":
			pod.Namespace = v
		case "K8S_POD_NAME":
			pod.Name = v
		case "K8S_POD_UID":
			pod.UID = v
		case "K8S_POD_INFRA_CONTAINER_ID":
			pod.SandboxID = v
		}
	}
	if pod.Namespace == "" {
		return nil, cniErr(cnitypes.ErrInvalidEnvironmentVariables, "%s: missing K8S_POD_NAMESPACE", api.EnvArgs)
	}
	if pod.Name == "" {
		return nil, cniErr(cnitypes.ErrInvalidEnvironmentVariables, "%s: missing K8S_POD_NAME", api.EnvArgs)
	}
	return pod, nil
}

func cniErr(code uint, format string, args ...any) *cnitypes.Error {
	return &cnitypes.Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// MergeConfig returns conf with every top-level key of override replacing
// conf's key of the same name (a shallow merge, §2.6). A key of conf that
// differs from an override key only in case is dropped too: encoding/json
// matches keys case-insensitively, and two spellings would make the result
// depend on key order.
func MergeConfig(conf []byte, override map[string]json.RawMessage) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(conf, &top); err != nil {
		return nil, fmt.Errorf("config is not a JSON object: %w", err)
	}
	if top == nil {
		return nil, fmt.Errorf("config is not a JSON object: null")
	}
	if len(override) == 0 {
		return conf, nil
	}
	for k := range top {
		for ok := range override {
			if k != ok && strings.EqualFold(k, ok) {
				delete(top, k)
			}
		}
	}
	for k, v := range override {
		top[k] = v
	}
	// An Encoder without HTML escaping: json.Marshal would rewrite every &, < and > in the
	// delegates' strings as \u0026..., so the plugin would not get the bytes the NAD holds.
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(top); err != nil {
		return nil, fmt.Errorf("merge daemon config: %w", err)
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}
