//go:build e2e

package e2eutil

import (
	"reflect"
	"testing"
)

// These run without a cluster: go test -tags e2e ./scenarios/internal/e2eutil/
func TestParseAddrs(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want map[string][]string
	}{
		{
			name: "busybox one-line form with a veth peer suffix and link-local v6",
			in: `1: lo    inet 127.0.0.1/8 scope host lo\       valid_lft forever preferred_lft forever
3: eth0@if9    inet 10.244.1.5/24 brd 10.244.1.255 scope global eth0\       valid_lft forever preferred_lft forever
3: eth0@if9    inet6 fe80::a8b1:2ff:fe3c:4d5e/64 scope link \       valid_lft forever preferred_lft forever
4: net1    inet 10.77.0.12/24 brd 10.77.0.255 scope global net1\       valid_lft forever preferred_lft forever
4: net1    inet6 fd00::5/64 scope global \       valid_lft forever preferred_lft forever`,
			want: map[string][]string{"lo": {"127.0.0.1"}, "eth0": {"10.244.1.5"}, "net1": {"10.77.0.12", "fd00::5"}},
		},
		{name: "empty", in: "", want: map[string][]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			links := map[string]*Link{}
			if err := parseAddrs(tc.in, links); err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for n, l := range links {
				got[n] = l.IPs()
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseRoutes(t *testing.T) {
	in := `default via 10.78.0.254 dev net1
10.78.0.0/24 dev net1 scope link  src 10.78.0.31
10.244.0.0/16 via 10.244.1.1 dev eth0
10.244.1.0/24 dev eth0 scope link  src 10.244.1.7
`
	want := []Route{
		{Dst: "default", Via: "10.78.0.254", Dev: "net1"},
		{Dst: "10.78.0.0/24", Dev: "net1"},
		{Dst: "10.244.0.0/16", Via: "10.244.1.1", Dev: "eth0"},
		{Dst: "10.244.1.0/24", Dev: "eth0"},
	}
	got := parseRoutes(in)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	n := Netns{Routes: got}
	if d := n.Defaults(); len(d) != 1 || d[0].Dev != "net1" {
		t.Fatalf("defaults = %v", d)
	}
	if r := n.RoutesOn("eth0"); len(r) != 2 {
		t.Fatalf("eth0 routes = %v", r)
	}
}

func TestParseInspect(t *testing.T) {
	in := "eth0 0a:58:0a:f4:01:05\nlo 00:00:00:00:00:00\nnet1 02:AA:bb:cc:dd:01\n--addr\n" +
		"4: net1    inet 10.78.0.21/24 brd 10.78.0.255 scope global net1\\       valid_lft forever\n" +
		"--route\ndefault via 10.244.1.1 dev eth0\n"
	n, err := parseInspect(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Names(); !reflect.DeepEqual(got, []string{"eth0", "net1"}) {
		t.Fatalf("names = %v", got)
	}
	if n.Links["net1"].MAC != "02:aa:bb:cc:dd:01" || !reflect.DeepEqual(n.Links["net1"].IPs(), []string{"10.78.0.21"}) {
		t.Fatalf("net1 = %+v", n.Links["net1"])
	}
	if len(n.Routes) != 1 || n.Routes[0].Via != "10.244.1.1" {
		t.Fatalf("routes = %v", n.Routes)
	}
	if _, err := parseInspect("garbage"); err == nil {
		t.Fatal("want an error for output without sections")
	}
}
