//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/multus-thick/multus-thick/src/internal/testutil/envtestutil"
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

func TestMain(m *testing.M) {
	os.Exit(envtestutil.Main(m, setup, func() {
		envtestutil.Stop(suite.env)
		os.RemoveAll(suite.dir)
	}))
}

func setup() error {
	var err error
	if suite.dir, err = os.MkdirTemp("", "mt-kube-it"); err != nil {
		return err
	}
	suite.env = envtestutil.NewEnv()
	if _, err := suite.env.Start(); err != nil {
		return fmt.Errorf("start envtest: %w", err)
	}
	// Not envtestutil.AddAdmin: the admin clientset here needs a higher
	// QPS than client-go's default, and the QPS is fixed at creation.
	admin, err := suite.env.AddUser(envtest.User{Name: "it-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	suite.adminREST = admin.Config()
	suite.adminREST.QPS, suite.adminREST.Burst = 500, 1000
	if suite.admin, err = kubernetes.NewForConfig(suite.adminREST); err != nil {
		return err
	}
	suite.adminKC = filepath.Join(suite.dir, "admin.kubeconfig")
	if err := envtestutil.WriteKubeconfig(admin, suite.adminKC); err != nil {
		return err
	}
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
