package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The shim runs once per CNI call on every node: it must stay small and
// start fast, so it may depend only on the CNI library and our wire and
// client packages. No Kubernetes library, and no net/http (which drags
// crypto/tls into the binary).
func TestShimDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{"k8s.io/", "sigs.k8s.io/", "github.com/vishvananda/", "net/http", "crypto/tls",
		"github.com/multus-thick/multus-thick/src/internal/daemon", "github.com/multus-thick/multus-thick/src/internal/server"}
	var deps int
	for _, pkg := range strings.Fields(string(out)) {
		deps++
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("multus-shim depends on %s (forbidden prefix %q)", pkg, f)
			}
		}
	}
	if deps < 10 {
		t.Fatalf("go list returned only %d packages; the check looked at nothing", deps)
	}
}
