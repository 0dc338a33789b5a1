package kube

import (
	"context"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"
)

func daemonSet(selector map[string]string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-multus-ds", Namespace: "kube-system"},
		Spec:       appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: selector}},
	}
}

func applied(selector map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "DaemonSet",
		"metadata": map[string]any{"name": "kube-multus-ds", "namespace": "kube-system"},
		"spec":     map[string]any{"selector": map[string]any{"matchLabels": selector}},
	}}
}

func TestDeleteChangedDaemonSets(t *testing.T) {
	tests := []struct {
		name        string
		existing    *appsv1.DaemonSet
		obj         *unstructured.Unstructured
		wantDeleted []string
	}{
		{"no DaemonSet yet", nil, applied(map[string]any{"name": "multus"}), nil},
		{"same selector stays", daemonSet(map[string]string{"app": "multus"}), applied(map[string]any{"app": "multus"}), nil},
		{"ours to upstream's", daemonSet(map[string]string{"app": "multus"}), applied(map[string]any{"name": "multus"}),
			[]string{"kube-system/kube-multus-ds"}},
		{"upstream's to ours", daemonSet(map[string]string{"name": "multus"}), applied(map[string]any{"app": "multus"}),
			[]string{"kube-system/kube-multus-ds"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset()
			if tc.existing != nil {
				cs = fake.NewClientset(tc.existing)
			}
			c := &Client{Core: cs, Poll: 10 * time.Millisecond}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := c.DeleteChangedDaemonSets(ctx, []*unstructured.Unstructured{tc.obj}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.wantDeleted) {
				t.Fatalf("deleted %v, want %v", got, tc.wantDeleted)
			}
			_, err = cs.AppsV1().DaemonSets("kube-system").Get(ctx, "kube-multus-ds", metav1.GetOptions{})
			if gone := apierrors.IsNotFound(err); gone != (tc.existing == nil || len(tc.wantDeleted) > 0) {
				t.Errorf("DaemonSet gone = %v (err %v)", gone, err)
			}
		})
	}
}
