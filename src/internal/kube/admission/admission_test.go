//go:build integration

package admission

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/kube"
	"github.com/multus-thick/multus-thick/src/internal/testutil/envtestutil"
)

const (
	saNamespace = "kube-system"
	saName      = "multus"
	statusKey   = nadv1.NetworkStatusAnnot
	// policyWait bounds the wait for the policy to take effect.
	policyWait = 60 * time.Second
)

// cluster is one envtest API server with the deployments' RBAC and policy.
type cluster struct {
	env   *envtest.Environment
	admin kubernetes.Interface
	rest  *rest.Config
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test-integration`")
	}
	// The NAD CRD, for the daemon's informers.
	env := envtestutil.NewEnv()
	if _, err := env.Start(); err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop envtest: %v", err)
		}
	})
	admin, cs, err := envtestutil.AddAdmin(env)
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{env: env, admin: cs, rest: admin.Config()}
}

// readObjects decodes every document of a deployments/ file into out's
// element type, by kind.
func readDoc(t *testing.T, file string, kind string, out any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(envtestutil.RepoRoot(), "deployments", file))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(data), "\n---") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil || meta.Kind != kind {
			continue
		}
		if err := yaml.UnmarshalStrict([]byte(doc), out); err != nil {
			t.Fatalf("%s: %s: %v", file, kind, err)
		}
		return
	}
	t.Fatalf("%s has no %s", file, kind)
}

// install applies the ServiceAccount, the RBAC and the admission policy
// of deployments/, and two nodes.
func (c *cluster) install(t *testing.T, ctx context.Context) {
	t.Helper()
	var sa corev1.ServiceAccount
	readDoc(t, "serviceaccount.yaml", "ServiceAccount", &sa)
	var role rbacv1.ClusterRole
	readDoc(t, "rbac.yaml", "ClusterRole", &role)
	var binding rbacv1.ClusterRoleBinding
	readDoc(t, "rbac.yaml", "ClusterRoleBinding", &binding)
	var policy admissionv1.ValidatingAdmissionPolicy
	readDoc(t, "admission-policy.yaml", "ValidatingAdmissionPolicy", &policy)
	var pb admissionv1.ValidatingAdmissionPolicyBinding
	readDoc(t, "admission-policy-binding.yaml", "ValidatingAdmissionPolicyBinding", &pb)
	if sa.Namespace != saNamespace || sa.Name != saName {
		t.Fatalf("ServiceAccount is %s/%s, the test expects %s/%s", sa.Namespace, sa.Name, saNamespace, saName)
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("create %s: %v", what, err)
		}
	}
	_, err := c.admin.CoreV1().ServiceAccounts(saNamespace).Create(ctx, &sa, metav1.CreateOptions{})
	must("ServiceAccount", err)
	_, err = c.admin.RbacV1().ClusterRoles().Create(ctx, &role, metav1.CreateOptions{})
	must("ClusterRole", err)
	_, err = c.admin.RbacV1().ClusterRoleBindings().Create(ctx, &binding, metav1.CreateOptions{})
	must("ClusterRoleBinding", err)
	_, err = c.admin.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, &policy, metav1.CreateOptions{})
	must("ValidatingAdmissionPolicy", err)
	_, err = c.admin.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, &pb, metav1.CreateOptions{})
	must("ValidatingAdmissionPolicyBinding", err)
	for _, n := range []string{"node-a", "node-b"} {
		_, err := c.admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{})
		must("node "+n, err)
	}
	// The policy's type-checking status is written by
	// kube-controller-manager, which envtest does not run; a CEL error
	// would instead make the allowed writes below fail (failurePolicy
	// Fail), so they prove every expression evaluates.
}

func (c *cluster) pod(t *testing.T, ctx context.Context, ns, name, node, serviceAccount string) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": name},
			Annotations: map[string]string{"k8s.v1.cni.cncf.io/networks": "macvlan", "tenant/note": "x"}},
		Spec: corev1.PodSpec{NodeName: node, ServiceAccountName: serviceAccount, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	out, err := c.admin.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// token mints a service-account token for the daemon, bound to pod (nil:
// bound to nothing, so it carries no node).
func (c *cluster) token(t *testing.T, ctx context.Context, pod *corev1.Pod) *rest.Config {
	t.Helper()
	req := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}
	if pod != nil {
		req.Spec.BoundObjectRef = &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}
	}
	tr, err := c.admin.CoreV1().ServiceAccounts(saNamespace).CreateToken(ctx, saName, req, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest: %v", err)
	}
	cfg := rest.AnonymousClientConfig(c.rest)
	cfg.BearerToken = tr.Status.Token
	return cfg
}

func ptr[T any](v T) *T { return &v }

// whoami returns the node-name extra the API server sees in cfg's token.
func whoami(t *testing.T, ctx context.Context, cfg *rest.Config) []string {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(cfg)
	r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SelfSubjectReview: %v", err)
	}
	if r.Status.UserInfo.Username != "system:serviceaccount:"+saNamespace+":"+saName {
		t.Fatalf("token authenticates as %q", r.Status.UserInfo.Username)
	}
	return r.Status.UserInfo.Extra["authentication.kubernetes.io/node-name"]
}

// edit GETs the pod as cs and updates its status subresource after change.
func edit(ctx context.Context, cs kubernetes.Interface, ns, name string, change func(*corev1.Pod)) error {
	p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	change(p)
	_, err = cs.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	return err
}

func setStatus(value string) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Annotations[statusKey] = value }
}

// TestDaemonWritesAreNodeScoped: the daemon's identity on node A may set
// and clear the network-status annotation of node A's pods, and nothing
// else: not on a node-B pod, not any other annotation, label or status
// field, and not with a token that names no node.
func TestDaemonWritesAreNodeScoped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := startCluster(t)
	c.install(t, ctx)
	const ns = "tenant"
	if _, err := c.admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The daemon's own pod on node A, to which its token is bound.
	daemonPod := c.pod(t, ctx, saNamespace, "multus-a", "node-a", saName)
	podA := c.pod(t, ctx, ns, "on-a", "node-a", "")
	podB := c.pod(t, ctx, ns, "on-b", "node-b", "")

	nodeA := c.token(t, ctx, daemonPod)
	if got := whoami(t, ctx, nodeA); len(got) != 1 || got[0] != "node-a" {
		t.Fatalf("pod-bound token's node-name extra = %v, want [node-a]", got)
	}
	unbound := c.token(t, ctx, nil)
	if got := whoami(t, ctx, unbound); len(got) != 0 {
		t.Fatalf("unbound token carries node-name %v", got)
	}
	daemon := kubernetes.NewForConfigOrDie(nodeA)

	// The policy takes effect asynchronously: wait until a write it
	// refuses is refused, bounded.
	deadline := time.Now().Add(policyWait)
	for {
		err := edit(ctx, daemon, ns, podB.Name, setStatus(`[]`))
		if apierrors.IsInvalid(err) || apierrors.IsForbidden(err) {
			if strings.Contains(err.Error(), "ValidatingAdmissionPolicy") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("policy not enforced after %s: last write to a node-B pod: %v", policyWait, err)
		}
		// Undo a write that got through before the policy was active.
		_ = edit(ctx, c.admin, ns, podB.Name, func(p *corev1.Pod) { delete(p.Annotations, statusKey) })
		time.Sleep(250 * time.Millisecond)
	}

	tests := []struct {
		name    string
		as      kubernetes.Interface
		pod     string
		change  func(*corev1.Pod)
		allowed bool
		message string // part of the refusal
	}{
		{name: "set network-status on its node's pod", as: daemon, pod: podA.Name, change: setStatus(`[{"name":"x"}]`), allowed: true},
		{name: "rewrite network-status on its node's pod", as: daemon, pod: podA.Name, change: setStatus(`[{"name":"y"}]`), allowed: true},
		{name: "network-status on a node-B pod", as: daemon, pod: podB.Name, change: setStatus(`[{"name":"x"}]`),
			message: "the multus daemon on node node-a may only write pods bound to that node"},
		{name: "another annotation", as: daemon, pod: podA.Name, change: func(p *corev1.Pod) { p.Annotations["tenant/note"] = "changed" },
			message: "only the k8s.v1.cni.cncf.io/network-status annotation"},
		{name: "a new annotation", as: daemon, pod: podA.Name, change: func(p *corev1.Pod) { p.Annotations["evil"] = "1" },
			message: "only the k8s.v1.cni.cncf.io/network-status annotation"},
		{name: "remove the networks annotation", as: daemon, pod: podA.Name, change: func(p *corev1.Pod) { delete(p.Annotations, "k8s.v1.cni.cncf.io/networks") },
			message: "only the k8s.v1.cni.cncf.io/network-status annotation"},
		{name: "a label", as: daemon, pod: podA.Name, change: func(p *corev1.Pod) { p.Labels["app"] = "other" },
			message: "labels, finalizers or owners"},
		{name: "a status field", as: daemon, pod: podA.Name, change: func(p *corev1.Pod) { p.Status.Message = "owned" },
			message: "spec or status"},
		{name: "token without a node", as: kubernetes.NewForConfigOrDie(unbound), pod: podA.Name, change: setStatus(`[{"name":"z"}]`),
			message: "(none in its token)"},
		{name: "clear network-status on its node's pod", as: daemon, pod: podA.Name, change: func(p *corev1.Pod) { delete(p.Annotations, statusKey) }, allowed: true},
		{name: "others are not restricted", as: c.admin, pod: podB.Name, change: func(p *corev1.Pod) { p.Labels["app"] = "admin-may" }, allowed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, err := c.admin.CoreV1().Pods(ns).Get(ctx, tc.pod, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			err = edit(ctx, tc.as, ns, tc.pod, tc.change)
			if tc.allowed {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("err = %v, want a refusal containing %q", err, tc.message)
			}
			after, err := c.admin.CoreV1().Pods(ns).Get(ctx, tc.pod, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if after.ResourceVersion != before.ResourceVersion {
				t.Errorf("refused write changed the pod (resourceVersion %s -> %s)", before.ResourceVersion, after.ResourceVersion)
			}
		})
	}

	// Writes through the main resource and deletes are refused too (RBAC
	// already denies them; the policy would as well).
	if err := daemon.CoreV1().Pods(ns).Delete(ctx, podA.Name, metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("delete as the daemon: %v, want forbidden", err)
	}

	t.Run("per-node certificate identity is node-scoped too", func(t *testing.T) {
		var perNode rbacv1.ClusterRoleBinding
		readDoc(t, "per-node-certificate/rbac-daemon.yaml", "ClusterRoleBinding", &perNode)
		if _, err := c.admin.RbacV1().ClusterRoleBindings().Create(ctx, &perNode, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		u, err := c.env.AddUser(envtest.User{Name: "system:multus:node-a", Groups: []string{"system:multus"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		cs := kubernetes.NewForConfigOrDie(u.Config())
		if err := edit(ctx, cs, ns, podA.Name, setStatus(`[{"name":"cert"}]`)); err != nil {
			t.Errorf("network-status on node-a's pod: %v", err)
		}
		if err := edit(ctx, cs, ns, podB.Name, setStatus(`[{"name":"cert"}]`)); err == nil ||
			!strings.Contains(err.Error(), "the multus daemon on node node-a may only write pods bound to that node") {
			t.Errorf("network-status on node-b's pod: %v, want the policy's refusal", err)
		}
		if err := edit(ctx, cs, ns, podA.Name, func(p *corev1.Pod) { p.Annotations["tenant/note"] = "cert" }); err == nil ||
			!strings.Contains(err.Error(), "only the k8s.v1.cni.cncf.io/network-status annotation") {
			t.Errorf("another annotation: %v, want the policy's refusal", err)
		}
	})

	t.Run("the daemon's own client still works", func(t *testing.T) {
		kc := writeKubeconfig(t, nodeA)
		client, err := kube.New(kube.Config{Kubeconfig: kc, NodeName: "node-a", SyncTimeout: time.Minute, APITimeout: 5 * time.Second}, nil)
		if err != nil {
			t.Fatal(err)
		}
		cctx, stop := context.WithCancel(ctx)
		defer stop()
		if err := client.Start(cctx); err != nil {
			t.Fatal(err)
		}
		ref := attach.PodRef{Namespace: ns, Name: podA.Name, UID: string(podA.UID)}
		want := []nadv1.NetworkStatus{{Name: "tenant/macvlan", Interface: "net1", IPs: []string{"10.1.0.5"}}}
		if err := client.Status().UpdateNetworkStatus(ctx, ref, func([]nadv1.NetworkStatus) []nadv1.NetworkStatus { return want }); err != nil {
			t.Fatalf("UpdateNetworkStatus on node A's pod: %v", err)
		}
		got, err := c.admin.CoreV1().Pods(ns).Get(ctx, podA.Name, metav1.GetOptions{})
		if err != nil || !strings.Contains(got.Annotations[statusKey], `"10.1.0.5"`) {
			t.Fatalf("annotation after the daemon's write: %q, %v", got.Annotations[statusKey], err)
		}
		refB := attach.PodRef{Namespace: ns, Name: podB.Name, UID: string(podB.UID)}
		err = client.Status().UpdateNetworkStatus(ctx, refB, func([]nadv1.NetworkStatus) []nadv1.NetworkStatus { return want })
		var status apierrors.APIStatus
		if err == nil || !errors.As(err, &status) || !strings.Contains(err.Error(), "may only write pods bound to that node") {
			t.Fatalf("UpdateNetworkStatus on node B's pod: %v, want the policy's refusal", err)
		}
		// ADD's write is a merge patch of pods/status: the policy sees it
		// as an update and judges it the same way.
		added := []nadv1.NetworkStatus{{Name: "tenant/macvlan", Interface: "net1", IPs: []string{"10.1.0.6"}}}
		if err := client.Status().SetNetworkStatus(ctx, ref, added); err != nil {
			t.Fatalf("SetNetworkStatus on node A's pod: %v", err)
		}
		got, err = c.admin.CoreV1().Pods(ns).Get(ctx, podA.Name, metav1.GetOptions{})
		if err != nil || !strings.Contains(got.Annotations[statusKey], `"10.1.0.6"`) {
			t.Fatalf("annotation after the daemon's patch: %q, %v", got.Annotations[statusKey], err)
		}
		err = client.Status().SetNetworkStatus(ctx, refB, added)
		if err == nil || !strings.Contains(err.Error(), "may only write pods bound to that node") {
			t.Fatalf("SetNetworkStatus on node B's pod: %v, want the policy's refusal", err)
		}
	})
}

// writeKubeconfig writes cfg (server, CA, bearer token) as a kubeconfig.
func writeKubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["it"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["daemon"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["it"] = &clientcmdapi.Context{Cluster: "it", AuthInfo: "daemon"}
	kc.CurrentContext = "it"
	path := filepath.Join(t.TempDir(), "daemon.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}
