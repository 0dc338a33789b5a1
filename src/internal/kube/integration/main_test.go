//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// The daemon runs as this user, bound to the ClusterRole of
// deployments/rbac.yaml, so the tests also prove that RBAC is enough.
const daemonUser = "system:serviceaccount:kube-system:multus"

// suite is the shared API server of this test binary.
var suite struct {
	env *envtest.Environment
	// admin is a cluster-admin clientset for test setup.
	admin      kubernetes.Interface
	adminREST  *rest.Config
	adminKC    string // kubeconfig path, for kubectl
	daemonKC   string // kubeconfig path of the daemon's identity
	daemonREST *rest.Config
	dir        string
}

func repoRoot() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "..", "..", "..")
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run `make test-integration` (it links kube-apiserver, etcd and kubectl into one directory)")
		return 1
	}
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "integration setup:", err)
		if suite.env != nil {
			_ = suite.env.Stop()
		}
		return 1
	}
	code := m.Run()
	if err := suite.env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop envtest:", err)
	}
	os.RemoveAll(suite.dir)
	return code
}

func setup() error {
	var err error
	if suite.dir, err = os.MkdirTemp("", "mt-kube-it"); err != nil {
		return err
	}
	suite.env = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(repoRoot(), "fixtures", "crd")},
		ErrorIfCRDPathMissing: true,
	}
	// No kube-controller-manager: nothing creates the "default"
	// ServiceAccount the admission plugin would require of every pod.
	suite.env.ControlPlane.GetAPIServer().Configure().Append("disable-admission-plugins", "ServiceAccount")
	if _, err := suite.env.Start(); err != nil {
		return fmt.Errorf("start envtest: %w", err)
	}
	admin, err := suite.env.AddUser(envtest.User{Name: "it-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	suite.adminREST = admin.Config()
	suite.adminREST.QPS, suite.adminREST.Burst = 500, 1000
	if suite.admin, err = kubernetes.NewForConfig(suite.adminREST); err != nil {
		return err
	}
	if suite.adminKC, err = writeKubeconfig(admin, "admin.kubeconfig"); err != nil {
		return err
	}
	if err := applyDaemonRBAC(); err != nil {
		return err
	}
	daemon, err := suite.env.AddUser(envtest.User{Name: daemonUser}, nil)
	if err != nil {
		return err
	}
	suite.daemonREST = daemon.Config()
	suite.daemonKC, err = writeKubeconfig(daemon, "daemon.kubeconfig")
	return err
}

func writeKubeconfig(u *envtest.AuthenticatedUser, name string) (string, error) {
	data, err := u.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(suite.dir, name)
	return path, os.WriteFile(path, data, 0o600)
}

// applyDaemonRBAC creates the ClusterRole of deployments/rbac.yaml and
// binds it to daemonUser.
func applyDaemonRBAC() error {
	data, err := os.ReadFile(filepath.Join(repoRoot(), "deployments", "rbac.yaml"))
	if err != nil {
		return err
	}
	ctx := context.Background()
	var role *rbacv1.ClusterRole
	for _, doc := range strings.Split(string(data), "\n---") {
		var r rbacv1.ClusterRole
		if err := yaml.Unmarshal([]byte(doc), &r); err == nil && r.Kind == "ClusterRole" {
			role = &r
		}
	}
	if role == nil {
		return fmt.Errorf("deployments/rbac.yaml has no ClusterRole")
	}
	if _, err := suite.admin.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create ClusterRole: %w", err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "multus-it"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: daemonUser}},
	}
	if _, err := suite.admin.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create ClusterRoleBinding: %w", err)
	}
	return nil
}

// kubeconfigVia rewrites the daemon's kubeconfig to reach the API server
// through addr (the outage proxy).
func kubeconfigVia(t *testing.T, addr string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(suite.daemonKC)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://" + addr
	}
	path := filepath.Join(t.TempDir(), "via-proxy.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

var nsSeq atomic.Int32

// freshNamespace creates a namespace for one test. Deleted namespaces
// stay Terminating without a controller manager, so names never repeat.
func freshNamespace(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("it-%d-%d", time.Now().UnixNano()%1e6, nsSeq.Add(1))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := suite.admin.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}

// newPod is a minimal pod bound to node.
func newPod(ns, name, node string, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
		},
	}
}

func createPod(t *testing.T, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	out, err := suite.admin.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
