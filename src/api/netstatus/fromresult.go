package netstatus

import (
	"net"

	cnitypes "github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
)

// FromResult builds the entries one network's CNI result puts in the
// pod's network-status. The entries are the ones the NAD client's
// CreateNetworkStatuses builds (upstream Multus writes those, and tools
// read them), without linking that package: it pulls client-go's whole
// clientset in for two API calls we make ourselves.
//
// The rules, quirks included, because the annotation is read by others:
//   - A result with exactly one interface gives one entry, whatever the
//     interface: it carries every IP, and Default is isDefault. Name, MAC
//     and MTU come from the interface only if it has a sandbox.
//   - Otherwise each interface with a sandbox (a pod interface) gives one
//     entry, in order; none gives no entry. An IP goes to the entry of the
//     interface its index names (it is dropped if that is not a pod
//     interface), an IP without an index to the last entry. When isDefault,
//     the default entry is the interface of the first IP that has both a
//     gateway and an index (none, if that is not a pod interface), else the
//     first entry.
//   - Every entry carries the gateways of the result's default routes, its
//     DNS and dev.
//
// Slices are empty rather than nil where the client's are (DNS; the IPs of
// a multi-interface result), so that reflect.DeepEqual, which the status
// writer uses to skip a no-op update, sees the same values.
func FromResult(res *types100.Result, network string, isDefault bool, dev *nadv1.DeviceInfo) []nadv1.NetworkStatus {
	base := nadv1.NetworkStatus{
		Name:       network,
		DNS:        dnsOf(res.DNS),
		DeviceInfo: dev,
		Gateway:    defaultGateways(res.Routes),
	}
	if len(res.Interfaces) == 1 {
		return []nadv1.NetworkStatus{singleInterface(base, res, isDefault)}
	}
	return podInterfaces(base, res, isDefault)
}

// singleInterface is the one-interface rule: every IP is this entry's.
func singleInterface(st nadv1.NetworkStatus, res *types100.Result, isDefault bool) nadv1.NetworkStatus {
	st.Default = isDefault
	if ifc := res.Interfaces[0]; ifc.Sandbox != "" {
		st.Interface, st.Mac, st.Mtu = ifc.Name, ifc.Mac, ifc.Mtu
	}
	for _, ip := range res.IPs {
		st.IPs = append(st.IPs, ip.Address.IP.String())
	}
	return st
}

// noInterface is the index gatewayInterface returns when no IP names one.
const noInterface = -1

// podInterfaces is the rule for zero or several interfaces: one entry per
// pod interface, each IP placed by its interface index.
func podInterfaces(base nadv1.NetworkStatus, res *types100.Result, isDefault bool) []nadv1.NetworkStatus {
	gw := noInterface
	if isDefault {
		gw = gatewayInterface(res.IPs)
	}
	var out []nadv1.NetworkStatus
	entryOf := map[int]int{} // index in res.Interfaces -> index in out
	for i, ifc := range res.Interfaces {
		if ifc.Sandbox == "" {
			continue
		}
		st := base
		st.Interface, st.Mac, st.Mtu = ifc.Name, ifc.Mac, ifc.Mtu
		st.IPs = []string{}
		if isDefault {
			// An index that is not -1 decides even when it names no pod
			// interface (then no entry is the default).
			st.Default = i == gw || (gw == noInterface && len(out) == 0)
		}
		entryOf[i] = len(out)
		out = append(out, st)
	}
	for _, ip := range res.IPs {
		addr := ip.Address.IP.String()
		switch {
		case ip.Interface != nil:
			if e, ok := entryOf[*ip.Interface]; ok {
				out[e].IPs = append(out[e].IPs, addr)
			}
		case len(out) > 0:
			last := len(out) - 1
			out[last].IPs = append(out[last].IPs, addr)
		}
	}
	return out
}

// gatewayInterface is the interface index of the first IP with a gateway
// and an index, or noInterface.
func gatewayInterface(ips []*types100.IPConfig) int {
	for _, ip := range ips {
		if ip.Gateway != nil && ip.Interface != nil {
			return *ip.Interface
		}
	}
	return noInterface
}

// defaultGateways lists the gateway of each default route, in order; a
// default route without a gateway is listed as net.IP's "<nil>", as the
// client does. Nil when there is none.
func defaultGateways(routes []*cnitypes.Route) []string {
	var out []string
	for _, r := range routes {
		if isDefaultRoute(r) {
			out = append(out, r.GW.String())
		}
	}
	return out
}

// isDefaultRoute: no destination at all, or one whose address is the
// unspecified address of either family (whatever its prefix length).
func isDefaultRoute(r *cnitypes.Route) bool {
	if r.Dst.IP == nil && r.Dst.Mask == nil {
		return true
	}
	return r.Dst.IP.Equal(net.IPv4zero) || r.Dst.IP.Equal(net.IPv6zero)
}

// dnsOf copies the result's DNS; the lists are never nil.
func dnsOf(d cnitypes.DNS) nadv1.DNS {
	return nadv1.DNS{
		Nameservers: append([]string{}, d.Nameservers...),
		Domain:      d.Domain,
		Search:      append([]string{}, d.Search...),
		Options:     append([]string{}, d.Options...),
	}
}
