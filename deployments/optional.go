package deployments

import (
	"embed"
	"fmt"
	"path"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Optional sets of objects beside the base, each a directory with its own
// kustomization.yaml (same supported subset).
const (
	// DRADir is the lab's DRA test driver: mt-dra-plugin's DaemonSet, its
	// RBAC and its DeviceClass. The lab applies it; it is not part of
	// multus-thick.
	DRADir = "dra"
	// PerNodeCertificateDir is what perNodeCertificate needs besides the
	// base: cert-approver's Deployment and RBAC, and the role binding of
	// the system:multus:<node> users.
	PerNodeCertificateDir = "per-node-certificate"
)

//go:embed dra/*.yaml per-node-certificate/*.yaml
var optionalFiles embed.FS

// OptionalObjects returns the objects dir/kustomization.yaml lists, in its
// order, with its image overrides applied: what
// `kubectl apply -k deployments/<dir>/` creates.
func OptionalObjects(dir string) ([]*unstructured.Unstructured, error) {
	if dir != DRADir && dir != PerNodeCertificateDir {
		return nil, fmt.Errorf("no optional deployment %q (want %s or %s)", dir, DRADir, PerNodeCertificateDir)
	}
	data, err := optionalFiles.ReadFile(path.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, fmt.Errorf("read %s/kustomization.yaml: %w", dir, err)
	}
	k, err := parseKustomization(data)
	if err != nil {
		return nil, fmt.Errorf("%s/%w", dir, err)
	}
	var out []*unstructured.Unstructured
	for _, name := range k.Resources {
		file := path.Join(dir, name)
		data, err := optionalFiles.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("kustomization resource %q: %w", file, err)
		}
		objs, err := Decode(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		for _, o := range objs {
			if err := OverrideImages(o, k.Images); err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
		}
		out = append(out, objs...)
	}
	return out, nil
}

// optionalFileNames lists the YAML files of dir, for the test that every
// one is in its kustomization.
func optionalFileNames(dir string) ([]string, error) {
	entries, err := optionalFiles.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var out []string
	for _, e := range entries {
		if e.Name() != "kustomization.yaml" {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
