package kube

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
	"github.com/multus-thick/multus-thick/src/internal/resolve"
)

// TestNADCacheKeepsOnlyWhatResolutionNeeds: the informer's copy of a NAD
// has its identity, the resourceName annotation and spec.config; an
// oversized config is replaced by its size, and resolution refuses that
// NAD naming the bound.
func TestNADCacheKeepsOnlyWhatResolutionNeeds(t *testing.T) {
	cfg := `{"cniVersion":"1.0.0","type":"bridge"}`
	fat := &nadv1.NetworkAttachmentDefinition{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "fat", Labels: map[string]string{"a": "b"},
			Annotations: map[string]string{
				api.ResourceNameAnnotation:  "intel.com/sriov",
				lastApplied:                 strings.Repeat("x", 5000),
				resolve.OversizedAnnotation: "forged by the user",
			},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Spec: nadv1.NetworkAttachmentDefinitionSpec{Config: cfg},
	}
	huge := &nadv1.NetworkAttachmentDefinition{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "huge"},
		Spec:       nadv1.NetworkAttachmentDefinitionSpec{Config: `{"type":"bridge","pad":"` + strings.Repeat("y", 2000) + `"}`},
	}
	size := strconv.Itoa(len(huge.Spec.Config))
	c, _, _ := testClient(t, Config{MaxNADConfigBytes: 1000}, fat, huge)
	ctx := context.Background()
	got, err := c.NADs().(resolve.NADProber).ProbeNAD(ctx, "ns", "fat")
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Config != cfg || got.Annotations[api.ResourceNameAnnotation] != "intel.com/sriov" ||
		len(got.Annotations) != 1 || len(got.Labels) != 0 || len(got.ManagedFields) != 0 || got.Name != "fat" {
		t.Errorf("cached NAD not trimmed to what resolution needs: %+v", got)
	}
	got, err = c.NADs().(resolve.NADProber).ProbeNAD(ctx, "ns", "huge")
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Config != "" || got.Annotations[resolve.OversizedAnnotation] != size {
		t.Fatalf("oversized config kept: %d bytes, annotations %v", len(got.Spec.Config), got.Annotations)
	}
	// Resolution refuses it with the bound, not as an empty (file-backed) spec.
	r := resolve.New(resolve.Options{NADs: c.NADs(), Limits: resolve.Limits{MaxNADConfigBytes: 1000}})
	conf := mustConf(t)
	pod := testPod("ns", "p", "u", map[string]string{"k8s.v1.cni.cncf.io/networks": "huge"})
	if _, err := r.Delegates(ctx, conf, pod); !errors.Is(err, resolve.ErrLimit) || !strings.Contains(err.Error(), size+" bytes") {
		t.Fatalf("err = %v, want the size bound", err)
	}
}

func mustConf(t *testing.T) *netconf.NetConf {
	t.Helper()
	conf, err := netconf.Load([]byte(`{"cniVersion":"1.0.0","name":"m","type":"multus-shim","delegates":[{"cniVersion":"1.0.0","name":"c","type":"bridge"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return conf
}
