package attach

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/containernetworking/cni/libcni"

	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// k8sArgKeys are the CNI_ARGS keys the daemon sets itself from the PodRef.
var k8sArgKeys = []string{"IgnoreUnknown", "K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID"}

// parseCNIArgs splits the runtime's CNI_ARGS ("K=V;K2=V2"). Values may
// contain '=', so each pair is split at its first '='.
func parseCNIArgs(raw string) ([][2]string, error) {
	var out [][2]string
	for _, pair := range strings.Split(raw, ";") {
		if pair == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: CNI_ARGS pair %q is not KEY=VALUE", ErrInvalidRequest, pair)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// runtimeInput is what every delegate of one request shares when its
// RuntimeConf is built: the request, the runtime's extra CNI_ARGS and its
// runtimeConfig.
type runtimeInput struct {
	req *Request
	// extraArgs are the runtime's CNI_ARGS pairs other than the ones the
	// daemon sets itself (upstream drops them in thick mode).
	extraArgs [][2]string
	// runtimeConfig is the runtime's runtimeConfig object, untouched.
	runtimeConfig map[string]any
}

func newRuntimeInput(req *Request) (*runtimeInput, error) {
	pairs, err := parseCNIArgs(req.CNIArgs)
	if err != nil {
		return nil, err
	}
	in := &runtimeInput{req: req}
	for _, p := range pairs {
		if !isK8sArgKey(p[0]) {
			in.extraArgs = append(in.extraArgs, p)
		}
	}
	var top struct {
		RuntimeConfig map[string]any `json:"runtimeConfig"`
	}
	if len(req.Config) > 0 {
		if err := json.Unmarshal(req.Config, &top); err != nil {
			return nil, fmt.Errorf("%w: runtimeConfig: %w", ErrInvalidConfig, err)
		}
	}
	in.runtimeConfig = top.RuntimeConfig
	return in, nil
}

func isK8sArgKey(k string) bool {
	for _, known := range k8sArgKeys {
		if strings.EqualFold(k, known) {
			return true
		}
	}
	return false
}

// runtimeConf builds what delegate d receives (§4.7, with two fixes: the
// runtime's extra CNI_ARGS are forwarded, and the runtime's runtimeConfig
// goes to the master only, so hostPorts and bandwidth do not leak to
// secondary networks).
func (in *runtimeInput) runtimeConf(d *netconf.Delegate, ifname, devInfoFile string) *libcni.RuntimeConf {
	req := in.req
	args := [][2]string{{"IgnoreUnknown", "true"}}
	if req.Pod != (PodRef{}) {
		args = append(args,
			[2]string{"K8S_POD_NAMESPACE", req.Pod.Namespace},
			[2]string{"K8S_POD_NAME", req.Pod.Name},
			[2]string{"K8S_POD_INFRA_CONTAINER_ID", req.Pod.SandboxID},
			[2]string{"K8S_POD_UID", req.Pod.UID})
	}
	legacyMAC := d.MacRequest != ""
	legacyIP := len(d.IPRequest) > 0
	for _, p := range in.extraArgs {
		// The delegate's own MAC/IP request wins over the runtime's.
		if (legacyMAC && strings.EqualFold(p[0], "MAC")) || (legacyIP && strings.EqualFold(p[0], "IP")) {
			continue
		}
		args = append(args, p)
	}
	if legacyMAC {
		args = append(args, [2]string{"MAC", d.MacRequest})
	}
	if legacyIP {
		args = append(args, [2]string{"IP", strings.Join(d.IPRequest, ",")})
	}
	return &libcni.RuntimeConf{
		ContainerID:    req.ContainerID,
		NetNS:          req.Netns,
		IfName:         ifname,
		Args:           args,
		CapabilityArgs: in.capabilityArgs(d, devInfoFile),
	}
}

func (in *runtimeInput) capabilityArgs(d *netconf.Delegate, devInfoFile string) map[string]any {
	caps := map[string]any{}
	if d.MasterPlugin {
		for k, v := range in.runtimeConfig {
			caps[k] = v
		}
	} else {
		if len(d.PortMappingsRequest) > 0 {
			caps["portMappings"] = d.PortMappingsRequest
		}
		if d.BandwidthRequest != nil {
			caps["bandwidth"] = d.BandwidthRequest
		}
		if len(d.IPRequest) > 0 {
			caps["ips"] = d.IPRequest
		}
		if d.MacRequest != "" {
			caps["mac"] = d.MacRequest
		}
		if d.InfinibandGUIDRequest != "" {
			caps["infinibandGUID"] = d.InfinibandGUIDRequest
		}
	}
	if d.DeviceID != "" {
		caps["deviceID"] = d.DeviceID
		if devInfoFile != "" {
			caps["CNIDeviceInfoFile"] = devInfoFile
		}
	}
	return caps
}
