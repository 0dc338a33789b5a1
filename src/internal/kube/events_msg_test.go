package kube

import (
	"errors"
	"testing"
)

func TestAddFailedMessage(t *testing.T) {
	cases := []struct {
		name, network, typ string
		code               uint
		want               string
	}{
		{"delegate failed", "ns/net1", "macvlan", 11, `network "ns/net1" (type macvlan) failed with CNI error code 11: boom`},
		{"before any delegate", "", "", 7, "ADD failed before any delegate ran (CNI error code 7): boom"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := addFailedMessage(tc.network, tc.typ, tc.code, errors.New("boom")); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
