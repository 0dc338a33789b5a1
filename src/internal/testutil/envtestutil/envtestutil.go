// Package envtestutil holds the envtest setup that the integration-tier
// test packages share: a real kube-apiserver and etcd (from
// KUBEBUILDER_ASSETS) with the NAD CRD, a cluster-admin client, and the
// daemon's RBAC from deployments/. Package-specific setup (authenticators,
// extra manifests, users) stays in each package.
package envtestutil

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// Main is the body of a TestMain for a package whose tests share one API
// server: setup starts it, the tests run only if setup worked, and
// teardown runs either way, since setup may fail after starting envtest.
// It returns the exit code for os.Exit.
func Main(m *testing.M, setup func() error, teardown func()) int {
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
	teardown()
	return code
}

// Stop stops env if it was created, reporting rather than returning a
// failure: it runs after the tests, when there is nothing left to fail.
func Stop(env *envtest.Environment) {
	if env == nil {
		return
	}
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop envtest:", err)
	}
}

// RepoRoot is the repository's root directory, found from this file so
// that it does not depend on the test's working directory.
func RepoRoot() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "..", "..", "..")
}

// NewEnv is an environment, not yet started, that installs the NAD CRD of
// fixtures/crd. The ServiceAccount admission plugin is off: without a
// kube-controller-manager nothing creates the "default" ServiceAccount
// the plugin would require of every pod.
func NewEnv() *envtest.Environment {
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "fixtures", "crd")},
		ErrorIfCRDPathMissing: true,
	}
	env.ControlPlane.GetAPIServer().Configure().Append("disable-admission-plugins", "ServiceAccount")
	return env
}

// AddAdmin adds the cluster-admin user "it-admin" to a started env and
// returns it with a clientset built from its config.
func AddAdmin(env *envtest.Environment) (*envtest.AuthenticatedUser, kubernetes.Interface, error) {
	u, err := env.AddUser(envtest.User{Name: "it-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("add admin user: %w", err)
	}
	cs, err := kubernetes.NewForConfig(u.Config())
	if err != nil {
		return nil, nil, fmt.Errorf("admin clientset: %w", err)
	}
	return u, cs, nil
}

// WriteKubeconfig writes u's kubeconfig to path, for code under test that
// takes a kubeconfig file as the daemon does.
func WriteKubeconfig(u *envtest.AuthenticatedUser, path string) error {
	data, err := u.KubeConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig of %s: %w", path, err)
	}
	return os.WriteFile(path, data, 0o600)
}

// ApplyDaemonRBAC creates the ClusterRole of deployments/rbac.yaml and
// binds it to user, so that tests acting as user also prove the RBAC is
// enough.
func ApplyDaemonRBAC(ctx context.Context, admin kubernetes.Interface, user string) error {
	data, err := os.ReadFile(filepath.Join(RepoRoot(), "deployments", "rbac.yaml"))
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
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create ClusterRole: %w", err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "multus-it"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create ClusterRoleBinding: %w", err)
	}
	return nil
}
