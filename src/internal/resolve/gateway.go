package resolve

import (
	"errors"
	"fmt"

	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// ErrECMP means two delegates asked for a default route of one family.
var ErrECMP = errors.New("multus does not support ECMP for default-route")

// checkInterfaces rejects two delegates asking for the same interface
// name, before anything runs (the second would fail in the netns after the
// first was already added).
func checkInterfaces(ds []*netconf.Delegate) error {
	seen := map[string]string{}
	for _, d := range ds {
		if d.IfnameRequest == "" {
			continue
		}
		if other, dup := seen[d.IfnameRequest]; dup {
			return fmt.Errorf("interface name %q is requested by both %q and %q", d.IfnameRequest, other, d.Name)
		}
		seen[d.IfnameRequest] = d.Name
	}
	return nil
}

// applyGatewayConfig is upstream's CheckGatewayConfig (§4.10): when any
// delegate sets default-route, at most one gateway per family is allowed,
// and every delegate filters the default routes of the families it did
// not ask a gateway for, the cluster network included.
func applyGatewayConfig(ds []*netconf.Delegate) error {
	var v4, v6 []string
	requested := false
	for _, d := range ds {
		if d.GatewayRequest == nil {
			continue
		}
		requested = true
		for _, gw := range *d.GatewayRequest {
			if gw.To4() != nil {
				v4 = append(v4, fmt.Sprintf("%s via %s", d.Name, gw))
			} else {
				v6 = append(v6, fmt.Sprintf("%s via %s", d.Name, gw))
			}
		}
	}
	if !requested {
		return nil
	}
	if len(v4) > 1 {
		return fmt.Errorf("%w: %d IPv4 default routes requested (%v)", ErrECMP, len(v4), v4)
	}
	if len(v6) > 1 {
		return fmt.Errorf("%w: %d IPv6 default routes requested (%v)", ErrECMP, len(v6), v6)
	}
	for _, d := range ds {
		var wants4, wants6 bool
		if d.GatewayRequest != nil {
			for _, gw := range *d.GatewayRequest {
				if gw.To4() != nil {
					wants4 = true
				} else {
					wants6 = true
				}
			}
		}
		d.IsFilterV4Gateway, d.IsFilterV6Gateway = !wants4, !wants6
	}
	return nil
}
