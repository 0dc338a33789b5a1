//go:build e2e

package e2eutil

import (
	"net/netip"
	"testing"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
)

func TestAgree(t *testing.T) {
	ns := Netns{Links: map[string]*Link{
		"lo":   {Name: "lo"},
		"eth0": {Name: "eth0", MAC: "0a:58:0a:f4:01:05", Addrs: []netip.Prefix{netip.MustParsePrefix("10.244.1.5/24")}},
		"net1": {Name: "net1", MAC: "02:aa:bb:cc:dd:01", Addrs: []netip.Prefix{netip.MustParsePrefix("10.78.0.21/24")}},
	}}
	eth0 := nadv1.NetworkStatus{Name: "cbr0", Interface: "eth0", IPs: []string{"10.244.1.5"}, Mac: "0a:58:0a:f4:01:05", Default: true}
	net1 := nadv1.NetworkStatus{Name: "ns/static", Interface: "net1", IPs: []string{"10.78.0.21"}, Mac: "02:AA:BB:CC:DD:01"}
	cases := []struct {
		name   string
		status []nadv1.NetworkStatus
		bad    int
	}{
		{name: "agree", status: []nadv1.NetworkStatus{eth0, net1}},
		{name: "net1 not reported", status: []nadv1.NetworkStatus{eth0}, bad: 1},
		{name: "wrong ip", status: []nadv1.NetworkStatus{eth0, {Name: "x", Interface: "net1", IPs: []string{"10.78.0.22"}, Mac: net1.Mac}}, bad: 1},
		{name: "wrong mac and phantom interface", status: []nadv1.NetworkStatus{{Name: "x", Interface: "eth0", IPs: eth0.IPs, Mac: "00:00:00:00:00:01"}, net1, {Name: "y", Interface: "net2"}}, bad: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Agree(tc.status, ns); len(got) != tc.bad {
				t.Fatalf("got %d problems %q, want %d", len(got), got, tc.bad)
			}
		})
	}
}

func TestExpect(t *testing.T) {
	status := []nadv1.NetworkStatus{
		{Name: "cbr0", Interface: "eth0", IPs: []string{"10.244.1.5"}, Default: true},
		{Name: "ns/low", Interface: "net1", IPs: []string{"10.77.0.12"}, Mac: "02:00:00:00:00:01"},
	}
	ok := []Want{
		{Interface: "eth0", Default: true, InPrefix: []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24")}},
		{Interface: "net1", Network: "ns/low", IPs: []string{"10.77.0.12"}, MAC: "02:00:00:00:00:01"},
	}
	if p := Expect(status, ok); len(p) != 0 {
		t.Fatalf("unexpected problems: %q", p)
	}
	bad := []Want{
		{Interface: "eth0", Default: false, InPrefix: []netip.Prefix{netip.MustParsePrefix("10.244.2.0/24")}},
		{Interface: "net1", Network: "ns/high", IPs: []string{"10.77.0.13"}},
		{Interface: "net2"},
	}
	if p := Expect(status, bad); len(p) != 5 {
		t.Fatalf("got %d problems %q, want 5", len(p), p)
	}
}
