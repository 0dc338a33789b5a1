//go:build integration

package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/multus-thick/multus-thick/src/internal/kubeapi"
	"github.com/multus-thick/multus-thick/src/internal/testutil/envtestutil"
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

func TestMain(m *testing.M) {
	os.Exit(envtestutil.Main(m, setup, func() {
		envtestutil.Stop(suite.env)
		os.RemoveAll(suite.dir)
	}))
}

func setup() error {
	var err error
	if suite.dir, err = os.MkdirTemp("", "mt-dra-it"); err != nil {
		return err
	}
	suite.env = envtestutil.NewEnv()
	if _, err := suite.env.Start(); err != nil {
		return fmt.Errorf("start envtest: %w", err)
	}
	admin, cs, err := envtestutil.AddAdmin(suite.env)
	if err != nil {
		return err
	}
	suite.adminREST, suite.admin = admin.Config(), cs
	if err := envtestutil.ApplyDaemonRBAC(context.Background(), suite.admin, daemonUser); err != nil {
		return err
	}
	daemon, err := suite.env.AddUser(envtest.User{Name: daemonUser}, nil)
	if err != nil {
		return err
	}
	suite.daemonREST = daemon.Config()
	suite.daemonKC = filepath.Join(suite.dir, "daemon.kubeconfig")
	return envtestutil.WriteKubeconfig(daemon, suite.daemonKC)
}

// countingClientset is a clientset as the daemon's identity that counts
// its requests to resource.k8s.io.
// countingResource is the daemon's own resource.k8s.io client (package
// kubeapi, protobuf) as the daemon's identity, counting its requests.
func countingResource(t *testing.T) (kubeapi.Resource, *atomic.Int32) {
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
	c, err := kubeapi.NewResource(cfg, nil)
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
