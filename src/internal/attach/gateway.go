package attach

import (
	"net"

	cnitypes "github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// routePlan is what default-route handling does for one delegate.
type routePlan struct {
	delV4, delV6 bool
	gateways     []net.IP
}

func planRoutes(d *netconf.Delegate) (routePlan, bool) {
	hasV4, hasV6 := d.GatewayFamilies()
	p := routePlan{delV4: d.IsFilterV4Gateway || hasV4, delV6: d.IsFilterV6Gateway || hasV6}
	if d.GatewayRequest != nil {
		p.gateways = *d.GatewayRequest
	}
	return p, p.delV4 || p.delV6 || len(p.gateways) > 0
}

// applyRoutesToResult edits a 1.0.0 result the same way the netns and the
// libcni cache are edited, so network-status reports the real gateway.
func applyRoutesToResult(res *types100.Result, p routePlan) {
	kept := res.Routes[:0]
	for _, r := range res.Routes {
		if r != nil && isDefaultDst(&r.Dst) && ((r.Dst.IP.To4() != nil && p.delV4) || (r.Dst.IP.To4() == nil && p.delV6)) {
			continue
		}
		kept = append(kept, r)
	}
	res.Routes = kept
	for _, gw := range p.gateways {
		res.Routes = append(res.Routes, &cnitypes.Route{Dst: defaultDst(gw), GW: gw})
	}
}

func defaultDst(gw net.IP) net.IPNet {
	if gw.To4() != nil {
		return net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
	}
	return net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
}
