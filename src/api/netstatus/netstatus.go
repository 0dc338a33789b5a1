// Package netstatus builds (from a CNI result), decodes and formats the pod
// annotation k8s.v1.cni.cncf.io/network-status (api.NetworkStatusAnnotation).
//
// It is a package of its own, apart from api, because it uses the
// NetworkAttachmentDefinition client's types, which import Kubernetes
// libraries; the shim imports api and must not import those.
package netstatus

import (
	"encoding/json"
	"fmt"
	"strings"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
)

// Parse decodes an annotation value; an empty value is no entries.
func Parse(value string) ([]nadv1.NetworkStatus, error) {
	if value == "" {
		return nil, nil
	}
	var out []nadv1.NetworkStatus
	if err := json.Unmarshal([]byte(value), &out); err != nil {
		return nil, fmt.Errorf("decode network-status: %w", err)
	}
	return out, nil
}

// Format renders the annotation value as upstream does: "[" + entries, each
// indented with four spaces, joined by "," + "]", so tools comparing the
// text see no difference.
func Format(statuses []nadv1.NetworkStatus) (string, error) {
	parts := make([]string, 0, len(statuses))
	for i := range statuses {
		b, err := json.MarshalIndent(statuses[i], "", "    ")
		if err != nil {
			return "", fmt.Errorf("network-status entry %q: %w", statuses[i].Name, err)
		}
		parts = append(parts, string(b))
	}
	return "[" + strings.Join(parts, ",") + "]", nil
}
