//go:build e2e

package e2eutil

import "testing"

func TestContainerdRef(t *testing.T) {
	cases := []struct{ name, in, want, retag string }{
		{"local registry", "localhost/multus-thick:lab", "localhost/multus-thick:lab", "localhost/multus-thick:lab-e2e-upgrade"},
		{"one-part name", "busybox:1", "docker.io/library/busybox:1", "busybox:1-e2e-upgrade"},
		{"org name", "multus-thick/daemon:v1", "docker.io/multus-thick/daemon:v1", "multus-thick/daemon:v1-e2e-upgrade"},
		{"registry with port", "reg:5000/x/y:z", "reg:5000/x/y:z", "reg:5000/x/y:z-e2e-upgrade"},
		{"no tag", "ghcr.io/multus-thick/multus-thick", "ghcr.io/multus-thick/multus-thick", "ghcr.io/multus-thick/multus-thick:latest-e2e-upgrade"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ContainerdRef(tc.in); got != tc.want {
				t.Errorf("ContainerdRef(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if got := Retagged(tc.in); got != tc.retag {
				t.Errorf("Retagged(%q) = %q, want %q", tc.in, got, tc.retag)
			}
		})
	}
}
