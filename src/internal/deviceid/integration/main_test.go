//go:build integration

package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// The daemon's identity, bound to the ClusterRole of deployments/rbac.yaml,
// so the tests also prove that RBAC is enough.
const daemonUser = "system:serviceaccount:kube-system:multus"

var suite struct {
	env        *envtest.Environment
	admin      kubernetes.Interface
	adminREST  *rest.Config
	daemonREST *rest.Config
	daemonKC   string
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
	err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration setup:", err)
	}
	code := 1
	if err == nil {
		code = m.Run()
	}
	if suite.env != nil {
		if err := suite.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop envtest:", err)
		}
	}
	os.RemoveAll(suite.dir)
	return code
}

func setup() error {
	var err error
	if suite.dir, err = os.MkdirTemp("", "mt-dra-it"); err != nil {
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
	if suite.admin, err = kubernetes.NewForConfig(suite.adminREST); err != nil {
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
	data, err := daemon.KubeConfig()
	if err != nil {
		return err
	}
	suite.daemonKC = filepath.Join(suite.dir, "daemon.kubeconfig")
	return os.WriteFile(suite.daemonKC, data, 0o600)
}

// applyDaemonRBAC creates the ClusterRole of deployments/rbac.yaml and
// binds it to daemonUser.
func applyDaemonRBAC() error {
	data, err := os.ReadFile(filepath.Join(repoRoot(), "deployments", "rbac.yaml"))
	if err != nil {
		return err
	}
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
	ctx := context.Background()
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

// countingClientset is a clientset as the daemon's identity that counts
// its requests to resource.k8s.io.
func countingClientset(t *testing.T) (kubernetes.Interface, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	cfg := rest.CopyConfig(suite.daemonREST)
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if strings.HasPrefix(req.URL.Path, "/apis/resource.k8s.io/") {
				n.Add(1)
			}
			return rt.RoundTrip(req)
		})
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, &n
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

var nsSeq atomic.Int32

// freshNamespace creates a namespace for one test. Without a controller
// manager deleted namespaces stay Terminating, so names never repeat.
func freshNamespace(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("dra-%d-%d", os.Getpid()%10000, nsSeq.Add(1))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := suite.admin.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}
