package kube

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// CoreDNS's objects as kubeadm creates them.
const (
	coreDNSNamespace = "kube-system"
	coreDNSConfigMap = "coredns"
	coreDNSName      = "coredns"
)

// EnsureCorefile replaces CoreDNS's Corefile when it differs and restarts
// CoreDNS so the change takes effect now rather than at the reload plugin's
// next check. It reports whether it changed anything.
func (c *Client) EnsureCorefile(ctx context.Context, corefile string) (bool, error) {
	cms := c.Core.CoreV1().ConfigMaps(coreDNSNamespace)
	cm, err := cms.Get(ctx, coreDNSConfigMap, metav1.GetOptions{})
	if err != nil {
		return false, fmt.Errorf("get CoreDNS ConfigMap: %w", err)
	}
	if cm.Data["Corefile"] == corefile {
		return false, nil
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data["Corefile"] = corefile
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
		return false, fmt.Errorf("update CoreDNS ConfigMap: %w", err)
	}
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"lab.multus-thick.io/restartedAt":%q}}}}}`,
		time.Now().UTC().Format(time.RFC3339))
	if _, err := c.Core.AppsV1().Deployments(coreDNSNamespace).Patch(ctx, coreDNSName, types.StrategicMergePatchType,
		[]byte(patch), metav1.PatchOptions{FieldManager: FieldManager}); err != nil {
		return true, fmt.Errorf("restart CoreDNS: %w", err)
	}
	return true, nil
}

// WaitCoreDNS waits for CoreDNS to be available.
func (c *Client) WaitCoreDNS(ctx context.Context) error {
	return c.WaitDeployment(ctx, coreDNSNamespace, coreDNSName)
}
