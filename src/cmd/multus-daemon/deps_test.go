package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// maxDaemonDeps bounds the daemon's package count (go list -deps, the
// standard library included; one less with CGO_ENABLED=0, as make build
// does): 894 with client-go's full clientset and informer factories, 766
// with the typed clients and informers of the groups it uses, 763 with
// nodecert's own CSR rotation, 662 since api/netstatus builds
// network-status instead of the NAD client's utils package, the last
// import of k8s.io/client-go/kubernetes (every group's clientset and
// apply-configurations), 578 since package kubeapi replaced the generated
// typed clients, whose shared scheme registered every API group, 528 with
// the build tag the Makefile builds with (grpcnotrace) since package
// recorder replaced client-go's tools/record (strategic merge patches and
// the OpenAPI machinery behind them). Raise the bound only for a dependency that earns
// its place; lower it when one goes.
const maxDaemonDeps = 528

// The daemon reads pods and NADs through its own informers on package
// kubeapi's clients: generated informer factories and listers are a whole API
// surface (every group's) it does not use.
var forbiddenDaemonDeps = []string{
	"k8s.io/client-go/informers",
	"k8s.io/client-go/listers",
	"github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/client/informers",
	"github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/client/listers",
	"sigs.k8s.io/controller-runtime",
	// Registers every API group (about 60 packages of k8s.io/api).
	"k8s.io/client-go/kubernetes/scheme",
	"k8s.io/client-go/kubernetes/typed/",
	// Strategic merge patches: kube-openapi, gnostic, a YAML parser.
	"k8s.io/apimachinery/pkg/util/strategicpatch",
	"k8s.io/kube-openapi/pkg/validation",
	"github.com/google/gnostic-models",
	// grpc's debug pages, which the grpcnotrace tag leaves out.
	"golang.org/x/net/trace",
	"html/template",
}

// buildTags are the Makefile's GOTAGS, which the daemon is built with.
func buildTags(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":="); ok && strings.TrimSpace(k) == "GOTAGS" {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("Makefile sets no GOTAGS")
	return ""
}

func TestDaemonDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", buildTags(t), "-deps", ".").CombinedOutput()
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
