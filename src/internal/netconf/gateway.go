package netconf

import (
	"errors"
	"fmt"
	"strings"
)

// ErrECMP means two delegates asked for a default route of one family.
var ErrECMP = errors.New("multus does not support ECMP for default-route")

// ApplyGatewayConfig is upstream's CheckGatewayConfig (§4.10): when any
// delegate carries a default-route request, at most one IPv4 and one IPv6
// gateway may be requested across all delegates, and every delegate, the
// cluster network included, is marked to lose the default routes of the
// families it did not ask a gateway for. Without any request it changes
// nothing.
func ApplyGatewayConfig(ds []*Delegate) error {
	requested := false
	var v4, v6 []string // "<network> via <gateway>", in order
	var v4Nets, v6Nets []string
	for _, d := range ds {
		if d.GatewayRequest == nil {
			continue
		}
		requested = true
		for _, gw := range *d.GatewayRequest {
			if gw.To4() != nil {
				v4, v4Nets = append(v4, fmt.Sprintf("%s via %s", d.Name, gw)), append(v4Nets, d.Name)
			} else {
				v6, v6Nets = append(v6, fmt.Sprintf("%s via %s", d.Name, gw)), append(v6Nets, d.Name)
			}
		}
	}
	if !requested {
		return nil
	}
	if err := ecmpError("IPv4", v4, v4Nets); err != nil {
		return err
	}
	if err := ecmpError("IPv6", v6, v6Nets); err != nil {
		return err
	}
	for _, d := range ds {
		hasV4, hasV6 := d.GatewayFamilies()
		d.IsFilterV4Gateway, d.IsFilterV6Gateway = !hasV4, !hasV6
	}
	return nil
}

func ecmpError(family string, routes, nets []string) error {
	if len(routes) < 2 {
		return nil
	}
	return fmt.Errorf("%w: networks %q and %q both request a default route of the same IP family (%s: %s)",
		ErrECMP, nets[0], nets[1], family, strings.Join(routes, ", "))
}

// GatewayFamilies says which IP families the delegate requested a default
// route for.
func (d *Delegate) GatewayFamilies() (v4, v6 bool) {
	if d.GatewayRequest == nil {
		return false, false
	}
	for _, gw := range *d.GatewayRequest {
		if gw.To4() != nil {
			v4 = true
		} else {
			v6 = true
		}
	}
	return v4, v6
}
