package bench

import (
	"slices"
	"testing"
)

func TestParseNetnsList(t *testing.T) {
	out := "mtb1a2b-s-3 (id: 4)\nmtb1a2b-s-2\nother\n\n"
	got := filterPrefix(parseNetnsList(out), "mtb")
	if want := []string{"mtb1a2b-s-3", "mtb1a2b-s-2"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestParseLinkNames(t *testing.T) {
	out := `1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
5: mtbab12m0@mtbab12m1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\    link/ether 1e:2c:aa:bb:cc:dd brd ff:ff:ff:ff:ff:ff
6: mtbab12br: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\    link/ether 1e:2c:aa:bb:cc:de brd ff:ff:ff:ff:ff:ff
`
	got := parseLinkNames(out)
	if want := []string{"lo", "mtbab12m0", "mtbab12br"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestConfigPath(t *testing.T) {
	tests := []struct {
		env  []string
		want string
	}{
		{env: []string{"HOME=/root", "PATH=/usr/bin:/bin"}, want: "/usr/bin:/bin"},
		{env: []string{"XPATH=/nope"}, want: ""},
		{env: nil, want: ""},
	}
	for _, tt := range tests {
		if got := (Config{Env: tt.env}).path(); got != tt.want {
			t.Errorf("path(%v) = %q, want %q", tt.env, got, tt.want)
		}
	}
}
