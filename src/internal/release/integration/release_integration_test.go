//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/kube"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
	"github.com/multus-thick/multus-thick/src/internal/release"
	"github.com/multus-thick/multus-thick/src/internal/testutil"
	"github.com/multus-thick/multus-thick/src/internal/testutil/envtestutil"
)

const nodeName = "node-a"

// untilBound is the safety net of every wait for the informer, the
// reconciler or an event to catch up, not a timing assertion.
const untilBound = 30 * time.Second

// env is one API server and the daemon's attacher on it, with cni-fault
// (from bin/) as the only delegate.
type env struct {
	t      *testing.T
	admin  kubernetes.Interface
	kc     *kube.Client
	a      *attach.Attacher
	cniDir string
	binDir string
	record string
	log    *slog.Logger
}

// oneDelegate resolves every pod to the cni-fault network.
type oneDelegate struct{ conf string }

func (r oneDelegate) Delegates(context.Context, *netconf.NetConf, *corev1.Pod) ([]*netconf.Delegate, error) {
	d, err := netconf.LoadDelegate([]byte(r.conf))
	if err != nil {
		return nil, err
	}
	d.MasterPlugin = true
	return []*netconf.Delegate{d}, nil
}

func (r oneDelegate) ClusterNetwork(ctx context.Context, c *netconf.NetConf) (*netconf.Delegate, error) {
	ds, err := r.Delegates(ctx, c, nil)
	if err != nil {
		return nil, err
	}
	return ds[0], nil
}

func newEnv(t *testing.T, fault string) *env {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test-integration`")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the integration tier runs as root (real netns for the sandboxes)")
	}
	fault0 := filepath.Join(envtestutil.RepoRoot(), "bin", "cni-fault")
	if _, err := os.Stat(fault0); err != nil {
		t.Fatalf("%v (run make build)", err)
	}
	te := envtestutil.NewEnv()
	if _, err := te.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = te.Stop() })
	admin, cs, err := envtestutil.AddAdmin(te)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kcPath := filepath.Join(dir, "kubeconfig")
	if err := envtestutil.WriteKubeconfig(admin, kcPath); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, admin: cs, cniDir: filepath.Join(dir, "multus"), record: filepath.Join(dir, "fault.log"),
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	e.kc, err = kube.New(kube.Config{Kubeconfig: kcPath, NodeName: nodeName, APITimeout: 3 * time.Second,
		PodLookupTimeout: time.Second, SyncTimeout: time.Minute}, e.log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := e.kc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	binDir := filepath.Join(dir, "bin")
	e.binDir = binDir
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(fault0, filepath.Join(binDir, "cni-fault")); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`{"cniVersion":"0.3.1","name":"faulty","type":"cni-fault","recordFile":%q,"fault":%s}`, e.record, fault)
	e.a, err = attach.New(attach.Options{Pods: e.kc.Pods(), Events: e.kc.Events(), Resolver: oneDelegate{conf},
		BinDir: binDir, CNIDir: e.cniDir, DelegateTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) createPod(name string) *corev1.Pod {
	e.t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	pod, err := e.admin.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return pod
}

func (e *env) request(cmd, id, netns string, pod *corev1.Pod) *attach.Request {
	ref := attach.PodRef{Namespace: pod.Namespace, Name: pod.Name, UID: string(pod.UID), SandboxID: id}
	raw, _ := json.Marshal(map[string]any{"cniVersion": "0.3.1", "name": "multus", "type": "multus-shim", "cniDir": e.cniDir, "binDir": e.binDir, "clusterNetwork": "faulty"})
	return &attach.Request{Command: cmd, ContainerID: id, Netns: netns, IfName: "eth0",
		CNIArgs: fmt.Sprintf("K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;K8S_POD_UID=%s", ref.Namespace, ref.Name, ref.UID),
		Pod:     ref, Config: raw, Logger: e.log}
}

func (e *env) hasRecord(id string) bool {
	_, err := os.Stat(filepath.Join(e.cniDir, id))
	return err == nil
}

// newNetns is a sandbox netns; its path is removed at the end if the test
// did not remove it.
func newNetns(t *testing.T) string {
	t.Helper()
	n := testutil.NewNetns(t)
	// Only the path matters, as for a runtime's sandbox.
	_ = n.Close()
	return n.Path()
}

// removeNetns does what the runtime does after the sandbox is gone.
func removeNetns(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Unmount(path, syscall.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// The DEL never came: the reconciler releases the sandbox once its pod is
// gone from the informer by UID and its netns no longer exists, and not a
// moment before.
func TestReconcileAgainstThePodInformer(t *testing.T) {
	e := newEnv(t, `{}`)
	pod := e.createPod("orphan")
	path := newNetns(t)
	const id = "c0ffee2001"
	if _, err := e.a.Add(context.Background(), e.request("ADD", id, path, pod)); err != nil {
		t.Fatal(err)
	}
	rec := release.NewReconciler(release.ReconcileOptions{Backend: e.a, Pods: e.kc.Pods(), Logger: e.log})
	pass := func() int { return rec.Pass(context.Background()) }

	if n := pass(); n != 0 || !e.hasRecord(id) {
		t.Fatalf("pod and netns present: released %d", n)
	}
	removeNetns(t, path)
	if n := pass(); n != 0 || !e.hasRecord(id) {
		t.Fatalf("netns gone, pod still there: released %d", n)
	}
	// No kubelet here to finish a graceful delete: force it.
	zero := int64(0)
	if err := e.admin.CoreV1().Pods("default").Delete(context.Background(), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the pod to be gone", untilBound, func() bool {
		_, err := e.admin.CoreV1().Pods("default").Get(context.Background(), pod.Name, metav1.GetOptions{})
		return err != nil
	})
	// A pod with the same name and another UID is not the sandbox's pod.
	e.createPod("orphan")
	testutil.Eventually(t, "the reconciler to release the sandbox", untilBound, func() bool { return pass() == 1 })
	if e.hasRecord(id) {
		t.Error("record kept")
	}
	data, _ := os.ReadFile(e.record)
	if !strings.Contains(string(data), `"command":"DEL"`) || !strings.Contains(string(data), "K8S_POD_UID="+string(pod.UID)) {
		t.Errorf("cni-fault saw no DEL with the pod's UID:\n%s", data)
	}
}

// A DEL that keeps failing puts a Warning on the pod while it exists.
func TestRetryEventOnThePod(t *testing.T) {
	e := newEnv(t, `{"del":{"code":11,"msg":"injected DEL failure","times":2}}`)
	pod := e.createPod("stuck")
	const id = "c0ffee2002"
	path := newNetns(t)
	if _, err := e.a.Add(context.Background(), e.request("ADD", id, path, pod)); err != nil {
		t.Fatal(err)
	}
	if err := e.a.Del(context.Background(), e.request("DEL", id, path, pod)); err == nil {
		t.Fatal("DEL succeeded: the fault did not bite")
	}
	if out, _ := e.a.RetryDelete(context.Background(), e.log, id, time.Hour); out != attach.RetryFailed {
		t.Fatalf("retry = %v", out)
	}
	testutil.Eventually(t, "the DeleteRetryFailed event", untilBound, func() bool {
		evs, err := e.admin.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=stuck"})
		if err != nil {
			return false
		}
		for _, ev := range evs.Items {
			if ev.Reason == attach.ReasonDeleteFailed && strings.Contains(ev.Message, "injected DEL failure") {
				return true
			}
		}
		return false
	})
	if out, err := e.a.RetryDelete(context.Background(), e.log, id, time.Hour); out != attach.RetryReleased || err != nil || e.hasRecord(id) {
		t.Fatalf("third DEL: %v %v, record kept %v", out, err, e.hasRecord(id))
	}
}
