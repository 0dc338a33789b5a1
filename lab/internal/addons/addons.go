// Package addons holds what the lab installs on the cluster besides our
// daemon: flannel as the cluster network and CoreDNS's Corefile.
package addons

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/multus-thick/multus-thick/deployments"
	"github.com/multus-thick/multus-thick/fixtures"
)

// FlannelImage is the tag the flannel manifest runs; lab-up builds and
// loads it (flanneld plus busybox), so it is never pulled.
const FlannelImage = "localhost/flannel:lab"

// Flannel is the flannel manifest (namespace, RBAC, config, DaemonSet).
//
//go:embed flannel.yaml
var Flannel []byte

// Corefile is kind's CoreDNS configuration without its `forward` to the
// node's resolver: the lab must not send DNS queries off the machine (about
// one a second were measured otherwise, lab-facts.md). Names outside
// cluster.local simply fail to resolve.
//
//go:embed Corefile
var Corefile string

// LabNADs returns the lab's NetworkAttachmentDefinitions, the objects of
// fixtures/nad/lab-*.yaml (shared with the scenarios, which use them by name).
func LabNADs() ([]*unstructured.Unstructured, error) {
	names, err := fs.Glob(fixtures.FS(), "nad/lab-*.yaml")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, errors.New("no fixtures/nad/lab-*.yaml")
	}
	var all []*unstructured.Unstructured
	for _, n := range names {
		data, err := fixtures.Read(n)
		if err != nil {
			return nil, err
		}
		objs, err := deployments.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("fixtures/%s: %w", n, err)
		}
		all = append(all, objs...)
	}
	return all, nil
}
