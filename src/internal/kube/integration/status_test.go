//go:build integration

package integration

import (
	"context"
	"maps"
	"path/filepath"
	"testing"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/multus-thick/multus-thick/src/api/netstatus"
	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/kube"
	"github.com/multus-thick/multus-thick/src/internal/testutil/envtestutil"
)

var eth0Status = []nadv1.NetworkStatus{{Name: "flannel", Interface: "eth0", IPs: []string{"10.9.0.1"}, Default: true}}

// TestSetNetworkStatusRecreatedPod: the patch carries the UID of the pod
// ADD looked up; a pod recreated under the same name is left alone and
// the write is no error.
func TestSetNetworkStatusRecreatedPod(t *testing.T) {
	ns := freshNamespace(t)
	old := createPod(t, newPod(ns, "p", "node-recreated", nil))
	ctx := context.Background()
	if err := suite.admin.CoreV1().Pods(ns).Delete(ctx, "p", *metav1.NewDeleteOptions(0)); err != nil {
		t.Fatal(err)
	}
	waitPodGone(t, ns, "p")
	current := createPod(t, newPod(ns, "p", "node-recreated", nil))
	d := startDaemon(t, suite.daemonKC, kube.Config{NodeName: "node-recreated"})
	if err := d.client.Status().SetNetworkStatus(ctx, attach.PodRef{Namespace: ns, Name: "p", UID: string(old.UID)}, eth0Status); err != nil {
		t.Fatalf("write for the old UID: %v", err)
	}
	if got := podAnnotation(t, ns, "p"); got != "" {
		t.Fatalf("the recreated pod got the old pod's network-status: %s", got)
	}
	if err := d.client.Status().SetNetworkStatus(ctx, attach.PodRef{Namespace: ns, Name: "p", UID: string(current.UID)}, eth0Status); err != nil {
		t.Fatal(err)
	}
	want, _ := netstatus.Format(eth0Status)
	if got := podAnnotation(t, ns, "p"); got != want {
		t.Fatalf("network-status = %q, want %q", got, want)
	}
	// Gone: nothing to annotate, no error.
	if err := d.client.Status().SetNetworkStatus(ctx, attach.PodRef{Namespace: ns, Name: "gone", UID: "x"}, eth0Status); err != nil {
		t.Errorf("write for a pod that is gone: %v", err)
	}
}

// TestSetNetworkStatusWithoutPatchVerb: with upstream's role (update on
// pods/status, no patch) the write still lands, through a GET and an
// update, and only the first write pays for the refused patch.
func TestSetNetworkStatusWithoutPatchVerb(t *testing.T) {
	ctx := context.Background()
	const user = "it-upstream-role"
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: user},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "pods/status"}, Verbs: []string{"get", "list", "watch", "update"}},
			{APIGroups: []string{"k8s.cni.cncf.io"}, Resources: []string{"*"}, Verbs: []string{"*"}},
			{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch", "update"}},
		},
	}
	if _, err := suite.admin.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}
	if _, err := suite.admin.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	u, err := suite.env.AddUser(envtest.User{Name: user}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(t.TempDir(), "upstream-role.kubeconfig")
	if err := envtestutil.WriteKubeconfig(u, kc); err != nil {
		t.Fatal(err)
	}

	ns := freshNamespace(t)
	var pods []string
	for _, name := range []string{"p1", "p2"} {
		pods = append(pods, string(createPod(t, newPod(ns, name, "node-upstream-role", nil)).UID))
	}
	var counter requestCounter
	d := startDaemon(t, kc, kube.Config{NodeName: "node-upstream-role", Requests: &counter})
	want, _ := netstatus.Format(eth0Status)
	perWrite := []map[string]int{
		{"patch pods/status": 1, "get pods": 1, "update pods/status": 1},
		{"get pods": 1, "update pods/status": 1},
	}
	for i, name := range []string{"p1", "p2"} {
		before := counter.snapshot()
		if err := d.client.Status().SetNetworkStatus(ctx, attach.PodRef{Namespace: ns, Name: name, UID: pods[i]}, eth0Status); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := podAnnotation(t, ns, name); got != want {
			t.Errorf("%s: network-status = %q, want %q", name, got, want)
		}
		if got := counter.since(before); !maps.Equal(got, perWrite[i]) {
			t.Errorf("%s: requests = %v, want %v", name, got, perWrite[i])
		}
	}
}

func podAnnotation(t *testing.T, ns, name string) string {
	t.Helper()
	pod, err := suite.admin.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pod.Annotations[nadv1.NetworkStatusAnnot]
}

// waitPodGone waits for a deleted pod to leave the API (no kubelet here,
// so a zero grace period removes it at once, or nearly).
func waitPodGone(t *testing.T, ns, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := suite.admin.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s/%s still there after 30s", ns, name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
