//go:build integration

package kube_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/multus-thick/multus-thick/deployments"
	"github.com/multus-thick/multus-thick/lab/internal/addons"
	"github.com/multus-thick/multus-thick/lab/internal/kube"
)

// TestIntegrationManifestsServerDryRun validates every manifest the project
// ships or the lab applies against a real kube-apiserver: schema, defaults
// and admission, as `kubectl apply --dry-run=server` would. Namespaces and
// CRDs are created for real first, since objects in them cannot be dry-run
// into something that does not exist.
func TestIntegrationManifestsServerDryRun(t *testing.T) {
	client := startAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	bundle, err := deployments.Committed()
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]func() ([]*unstructured.Unstructured, error){
		"deployments/multus-daemonset-thick.yml":    func() ([]*unstructured.Unstructured, error) { return deployments.Decode(bundle) },
		"deployments/ with the lab's kustomization": deployments.Objects,
		"deployments/" + deployments.UpstreamFile:   deployments.UpstreamObjects,
		"the lab's flannel":                         func() ([]*unstructured.Unstructured, error) { return deployments.Decode(addons.Flannel) },
		"fixtures/nad/lab-*.yaml":                   addons.LabNADs,
		"deployments/" + deployments.DRADir + "/":   func() ([]*unstructured.Unstructured, error) { return deployments.OptionalObjects(deployments.DRADir) },
		"deployments/" + deployments.PerNodeCertificateDir + "/": func() ([]*unstructured.Unstructured, error) {
			return deployments.OptionalObjects(deployments.PerNodeCertificateDir)
		},
	}
	var all [][]*unstructured.Unstructured
	for name, get := range sets {
		objs, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		all = append(all, objs)
	}
	var prereqs []*unstructured.Unstructured
	for _, objs := range all {
		for _, o := range objs {
			if o.GetKind() == "Namespace" || o.GetKind() == "CustomResourceDefinition" {
				prereqs = append(prereqs, o)
			}
		}
	}
	if err := client.Apply(ctx, prereqs, kube.ApplyOptions{}); err != nil {
		t.Fatalf("create namespaces and CRDs: %v", err)
	}
	for name, get := range sets {
		t.Run(name, func(t *testing.T) {
			objs, _ := get()
			if err := client.Apply(ctx, objs, kube.ApplyOptions{DryRun: true}); err != nil {
				t.Fatalf("server dry run: %v", err)
			}
		})
	}
}

// The dry run must be able to fail: an object the API server rejects is
// reported with its kind and name.
func TestIntegrationDryRunRejectsInvalidObject(t *testing.T) {
	client := startAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	objs, err := deployments.Objects()
	if err != nil {
		t.Fatal(err)
	}
	var ds *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "DaemonSet" {
			ds = o
		}
	}
	// A hostPath type the API does not know: a typo a YAML linter would miss.
	vols, _, _ := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", "volumes")
	for _, v := range vols {
		if hp, ok := v.(map[string]any)["hostPath"].(map[string]any); ok {
			hp["type"] = "DirectoryOrCreat"
		}
	}
	if err := unstructured.SetNestedSlice(ds.Object, vols, "spec", "template", "spec", "volumes"); err != nil {
		t.Fatal(err)
	}
	err = client.Apply(ctx, []*unstructured.Unstructured{ds}, kube.ApplyOptions{DryRun: true})
	if err == nil || !strings.Contains(err.Error(), "DaemonSet kube-system/kube-multus-ds") {
		t.Fatalf("err = %v, want a rejection naming the DaemonSet", err)
	}
}

func startAPIServer(t *testing.T) *kube.Client {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test-integration`, which builds kube-apiserver, etcd and kubectl into the cache")
	}
	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start kube-apiserver: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop kube-apiserver: %v", err)
		}
	})
	client, err := kube.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}
