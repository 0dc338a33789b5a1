package main

import (
	"os/exec"
	"strings"
	"testing"
)

// maxDaemonDeps bounds the daemon's package count (go list -deps, the
// standard library included): 894 with client-go's full clientset and
// informer factories, 764 with the typed clients and informers of the
// groups it uses. What still pulls the full clientset in, through
// k8s.io/client-go/kubernetes: nodecert (client-go's certificate manager)
// and attach (the NAD client's utils package, for CreateNetworkStatuses);
// without both it is about 660. Raise the bound only for a dependency that
// earns its place; lower it when one goes.
const maxDaemonDeps = 770

// The daemon reads pods and NADs through its own informers on typed
// clients: generated informer factories and listers are a whole API
// surface (every group's) it does not use.
var forbiddenDaemonDeps = []string{
	"k8s.io/client-go/informers",
	"k8s.io/client-go/listers",
	"github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/client/informers",
	"github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/client/listers",
	"sigs.k8s.io/controller-runtime",
}

func TestDaemonDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	pkgs := strings.Fields(string(out))
	for _, pkg := range pkgs {
		for _, f := range forbiddenDaemonDeps {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("multus-daemon depends on %s (forbidden prefix %q)", pkg, f)
			}
		}
	}
	if len(pkgs) > maxDaemonDeps {
		t.Errorf("multus-daemon depends on %d packages, more than the bound %d: which new import brought them?", len(pkgs), maxDaemonDeps)
	}
	if len(pkgs) < 100 {
		t.Fatalf("go list returned only %d packages; the check looked at nothing", len(pkgs))
	}
}
