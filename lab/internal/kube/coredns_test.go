package kube

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestEnsureCorefileReplacesOnceAndRestarts(t *testing.T) {
	cs := fake.NewClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "coredns"},
			Data: map[string]string{"Corefile": ".:53 {\n    forward . /etc/resolv.conf\n}\n"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "coredns"}},
	)
	c := &Client{Core: cs}
	ctx := context.Background()
	const want = ".:53 {\n    kubernetes cluster.local\n}\n"
	changed, err := c.EnsureCorefile(ctx, want)
	if err != nil || !changed {
		t.Fatalf("first EnsureCorefile = %v, %v; want changed", changed, err)
	}
	cm, _ := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
	if cm.Data["Corefile"] != want {
		t.Fatalf("Corefile = %q", cm.Data["Corefile"])
	}
	d, _ := cs.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
	if d.Spec.Template.Annotations["lab.multus-thick.io/restartedAt"] == "" {
		t.Fatal("CoreDNS was not restarted after the Corefile changed")
	}
	if changed, err := c.EnsureCorefile(ctx, want); err != nil || changed {
		t.Fatalf("second EnsureCorefile = %v, %v; want unchanged", changed, err)
	}
}
