package attach

import (
	"fmt"
	"net"

	cnitypes "github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/multus-thick/multus-thick/src/api"
)

// toV100 converts a delegate's result to 1.0.0, the form the wire and the
// network-status code use.
func toV100(res cnitypes.Result) (*types100.Result, error) {
	if res == nil {
		return &types100.Result{CNIVersion: api.ResultVersion}, nil
	}
	conv, err := res.GetAsVersion(api.ResultVersion)
	if err != nil {
		return nil, fmt.Errorf("convert result to %s: %w", api.ResultVersion, err)
	}
	r, ok := conv.(*types100.Result)
	if !ok {
		return nil, fmt.Errorf("convert result: unexpected type %T", conv)
	}
	return r, nil
}

// placeholderResult is upstream's answer when the pod is gone at ADD.
func placeholderResult(req *Request) *types100.Result {
	idx := 0
	return &types100.Result{
		CNIVersion: api.ResultVersion,
		Interfaces: []*types100.Interface{{Name: req.IfName, Sandbox: req.Netns}},
		IPs: []*types100.IPConfig{{
			Interface: &idx,
			Address:   net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)},
			Gateway:   net.IPv4zero,
		}},
	}
}

// atLeast reports whether v >= min; an empty or bad version is "no".
func atLeast(v, minVersion string) bool {
	ok, err := version.GreaterThanOrEqualTo(v, minVersion)
	return err == nil && ok
}
