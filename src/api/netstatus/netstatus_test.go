package netstatus_test

import (
	"reflect"
	"strings"
	"testing"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"

	"github.com/multus-thick/multus-thick/src/api/netstatus"
)

func TestFormatIsUpstreamShapeAndParsesBack(t *testing.T) {
	entries := []nadv1.NetworkStatus{
		{Name: "flannel", Interface: "eth0", IPs: []string{"10.244.1.5"}, Mac: "0a:58:0a:f4:01:05", Default: true},
		{Name: "ns1/macvlan", Interface: "net1", IPs: []string{"10.201.0.5"}},
	}
	got, err := netstatus.Format(entries)
	if err != nil {
		t.Fatal(err)
	}
	want := "[{\n    \"name\": \"flannel\",\n    \"interface\": \"eth0\",\n    \"ips\": [\n        \"10.244.1.5\"\n    ],\n" +
		"    \"mac\": \"0a:58:0a:f4:01:05\",\n    \"default\": true,\n    \"dns\": {}\n},{\n    \"name\": \"ns1/macvlan\",\n" +
		"    \"interface\": \"net1\",\n    \"ips\": [\n        \"10.201.0.5\"\n    ],\n    \"dns\": {}\n}]"
	if got != want {
		t.Errorf("Format =\n%s\nwant\n%s", got, want)
	}
	back, err := netstatus.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, entries) {
		t.Errorf("Parse(Format(x)) = %+v, want %+v", back, entries)
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		name    string
		value   string
		want    int
		wantErr string
	}{
		{"empty is no entries", "", 0, ""},
		{"empty list", "[]", 0, ""},
		{"one entry", `[{"name":"flannel","interface":"eth0"}]`, 1, ""},
		{"not JSON", "{not json", 0, "decode network-status"},
		{"object not list", `{"name":"flannel"}`, 0, "decode network-status"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := netstatus.Parse(tc.value)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(got) != tc.want {
				t.Fatalf("Parse = %v, %v; want %d entries", got, err, tc.want)
			}
		})
	}
}
