package netstatus_test

import (
	"net"
	"reflect"
	"testing"

	cnitypes "github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	nadutils "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/utils"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/api/netstatus"
)

func idx(i int) *int { return &i }

func ipc(cidr string, iface *int, gw string) *types100.IPConfig {
	ip, n, err := net.ParseCIDR(cidr)
	if err != nil {
		panic(err)
	}
	n.IP = ip
	return &types100.IPConfig{Interface: iface, Address: *n, Gateway: net.ParseIP(gw)}
}

func route(dst, gw string) *cnitypes.Route {
	r := &cnitypes.Route{GW: net.ParseIP(gw)}
	if dst != "" {
		_, n, err := net.ParseCIDR(dst)
		if err != nil {
			panic(err)
		}
		r.Dst = *n
	}
	return r
}

const sandbox = "/var/run/netns/cni-1234"

// results are the shapes delegates return (and a few odd ones), each
// checked against the NAD client's builder, as default and as not.
var results = []struct {
	name string
	res  types100.Result
	dev  *nadv1.DeviceInfo
}{
	{name: "empty"},
	{name: "IPs but no interfaces", res: types100.Result{IPs: []*types100.IPConfig{ipc("10.1.0.5/24", nil, "10.1.0.1")}}},
	{name: "the placeholder when the pod is gone", res: types100.Result{
		Interfaces: []*types100.Interface{{Name: "eth0", Sandbox: sandbox}},
		IPs:        []*types100.IPConfig{ipc("0.0.0.0/0", idx(0), "0.0.0.0")},
	}},
	{name: "one pod interface: macvlan", res: types100.Result{
		Interfaces: []*types100.Interface{{Name: "net1", Mac: "0a:58:0a:c9:00:05", Mtu: 1450, Sandbox: sandbox}},
		IPs:        []*types100.IPConfig{ipc("10.201.0.5/24", idx(0), ""), ipc("fd00::5/64", idx(0), "")},
		DNS:        cnitypes.DNS{Nameservers: []string{"10.96.0.10"}, Domain: "cluster.local", Search: []string{"svc.cluster.local"}, Options: []string{"ndots:5"}},
	}},
	{name: "one interface without a sandbox", res: types100.Result{
		Interfaces: []*types100.Interface{{Name: "host0", Mac: "0a:00:00:00:00:01"}},
		IPs:        []*types100.IPConfig{ipc("10.2.0.5/24", idx(0), "10.2.0.1"), ipc("10.3.0.5/24", nil, "")},
		Routes:     []*cnitypes.Route{route("0.0.0.0/0", "10.2.0.1")},
	}},
	{name: "bridge: bridge, host veth, pod interface", res: types100.Result{
		Interfaces: []*types100.Interface{
			{Name: "cni0", Mac: "0a:00:00:00:00:01"},
			{Name: "veth1234", Mac: "0a:00:00:00:00:02"},
			{Name: "eth0", Mac: "0a:58:0a:f4:01:05", Mtu: 1450, Sandbox: sandbox},
		},
		IPs:    []*types100.IPConfig{ipc("10.244.1.5/24", idx(2), "10.244.1.1"), ipc("fd10::5/64", idx(2), "fd10::1")},
		Routes: []*cnitypes.Route{route("0.0.0.0/0", "10.244.1.1"), route("10.244.0.0/16", "10.244.1.1"), route("::/0", "fd10::1")},
	}, dev: &nadv1.DeviceInfo{Type: nadv1.DeviceInfoTypePCI, Version: "1.1.0", Pci: &nadv1.PciDevice{PciAddress: "0000:03:00.1"}}},
	{name: "two pod interfaces, gateway on the second", res: types100.Result{
		Interfaces: []*types100.Interface{
			{Name: "net1", Sandbox: sandbox},
			{Name: "br0"},
			{Name: "net2", Mac: "0a:00:00:00:00:03", Sandbox: sandbox},
		},
		IPs: []*types100.IPConfig{
			ipc("10.4.0.5/24", idx(0), ""), ipc("10.5.0.5/24", idx(2), "10.5.0.1"),
			ipc("10.6.0.5/24", nil, ""), ipc("10.7.0.5/24", idx(1), ""), ipc("10.8.0.5/24", idx(9), ""),
		},
		Routes: []*cnitypes.Route{route("", "10.5.0.1"), {Dst: net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(8, 32)}}},
	}},
	{name: "gateway on a host interface", res: types100.Result{
		Interfaces: []*types100.Interface{{Name: "br0"}, {Name: "net1", Sandbox: sandbox}, {Name: "net2", Sandbox: sandbox}},
		IPs:        []*types100.IPConfig{ipc("10.9.0.5/24", idx(0), "10.9.0.1"), ipc("10.10.0.5/24", idx(1), "")},
	}},
	{name: "gateway without an interface index", res: types100.Result{
		Interfaces: []*types100.Interface{{Name: "net1", Sandbox: sandbox}, {Name: "net2", Sandbox: sandbox}},
		IPs:        []*types100.IPConfig{ipc("10.11.0.5/24", nil, "10.11.0.1"), ipc("10.12.0.5/24", idx(1), "10.12.0.1")},
	}},
	{name: "gateway with a negative index", res: types100.Result{
		Interfaces: []*types100.Interface{{Name: "net1", Sandbox: sandbox}, {Name: "net2", Sandbox: sandbox}},
		IPs:        []*types100.IPConfig{ipc("10.13.0.5/24", idx(-2), "10.13.0.1")},
	}},
	{name: "no pod interface among several", res: types100.Result{
		Interfaces: []*types100.Interface{{Name: "br0"}, {Name: "veth0"}},
		IPs:        []*types100.IPConfig{ipc("10.14.0.5/24", nil, "10.14.0.1")},
	}},
}

// The entries are the NAD client's, value for value (reflect.DeepEqual,
// as the status writer compares them) and in the annotation's text.
func TestFromResultMatchesTheNADClient(t *testing.T) {
	for _, tc := range results {
		for _, isDefault := range []bool{false, true} {
			name := tc.name
			if isDefault {
				name += ", default network"
			}
			t.Run(name, func(t *testing.T) {
				res := tc.res
				res.CNIVersion = api.ResultVersion
				ptrs, err := nadutils.CreateNetworkStatuses(&res, "ns1/net-a", isDefault, tc.dev)
				if err != nil {
					t.Fatal(err)
				}
				var want []nadv1.NetworkStatus
				for _, p := range ptrs {
					want = append(want, *p)
				}
				got := netstatus.FromResult(&res, "ns1/net-a", isDefault, tc.dev)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("FromResult =\n%#v\nthe NAD client's =\n%#v", got, want)
				}
				gotText, err := netstatus.Format(got)
				if err != nil {
					t.Fatal(err)
				}
				wantText, err := netstatus.Format(want)
				if err != nil {
					t.Fatal(err)
				}
				if gotText != wantText {
					t.Errorf("annotation =\n%s\nthe NAD client's =\n%s", gotText, wantText)
				}
			})
		}
	}
}

// The rules spelled out, so a change in the client cannot move both sides
// of the comparison above without a test noticing.
func TestFromResultRules(t *testing.T) {
	two := types100.Result{
		Interfaces: []*types100.Interface{{Name: "br0"}, {Name: "net1", Sandbox: sandbox}, {Name: "net2", Sandbox: sandbox}},
		IPs: []*types100.IPConfig{
			ipc("10.0.1.5/24", idx(1), ""), ipc("10.0.2.5/24", idx(2), "10.0.2.1"), ipc("10.0.3.5/24", nil, ""),
		},
		Routes: []*cnitypes.Route{route("0.0.0.0/0", "10.0.2.1"), route("10.0.0.0/8", "10.0.1.1")},
	}
	got := netstatus.FromResult(&two, "n", true, nil)
	if len(got) != 2 {
		t.Fatalf("%d entries, want one per pod interface (2): %+v", len(got), got)
	}
	if got[0].Interface != "net1" || got[0].Default || !reflect.DeepEqual(got[0].IPs, []string{"10.0.1.5"}) {
		t.Errorf("first entry %+v, want net1, not default, 10.0.1.5", got[0])
	}
	if got[1].Interface != "net2" || !got[1].Default || !reflect.DeepEqual(got[1].IPs, []string{"10.0.2.5", "10.0.3.5"}) {
		t.Errorf("second entry %+v, want net2, default (its IP has the gateway), 10.0.2.5 and the unindexed 10.0.3.5", got[1])
	}
	for _, st := range got {
		if !reflect.DeepEqual(st.Gateway, []string{"10.0.2.1"}) {
			t.Errorf("%s: gateway %v, want the default route's only", st.Interface, st.Gateway)
		}
	}
}
