//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multus-thick/multus-thick/src/api/netstatus"
	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/kube"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
	"github.com/multus-thick/multus-thick/src/internal/resolve"
)

const macvlanConf = `{"cniVersion":"1.0.0","type":"macvlan","master":"eth0","ipam":{"type":"static"}}`

// TestAnnotationReadableByKubectl: the network-status the daemon writes
// through pods/status is what kubectl shows, byte for byte.
func TestAnnotationReadableByKubectl(t *testing.T) {
	ns := freshNamespace(t)
	createNAD(t, ns, "macvlan", macvlanConf)
	pod := createPod(t, newPod(ns, "p", "node-kubectl", map[string]string{
		"k8s.v1.cni.cncf.io/networks": "macvlan@net7",
	}))
	d := startDaemon(t, suite.daemonKC, kube.Config{NodeName: "node-kubectl"})
	ctx := context.Background()
	ds, err := d.add(ctx, attach.PodRef{Namespace: ns, Name: "p", UID: string(pod.UID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[1].Name != ns+"/macvlan" || ds[1].IfnameRequest != "net7" {
		t.Fatalf("delegates = %+v", ds)
	}

	kubectl := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", suite.adminKC, "get", "pod", "-n", ns, "p", "-o", "json").Output()
	if err != nil {
		t.Fatalf("kubectl: %v", err)
	}
	var got corev1.Pod
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	value := got.Annotations[nadv1.NetworkStatusAnnot]
	var statuses []nadv1.NetworkStatus
	if err := json.Unmarshal([]byte(value), &statuses); err != nil {
		t.Fatalf("annotation as kubectl shows it is not JSON: %v\n%s", err, value)
	}
	if len(statuses) != 2 || statuses[0].Name != "flannel" || !statuses[0].Default || statuses[1].Name != ns+"/macvlan" || statuses[1].Interface != "net1" {
		t.Errorf("statuses = %+v", statuses)
	}
	want, err := netstatus.Format(statuses)
	if err != nil {
		t.Fatal(err)
	}
	if value != want {
		t.Errorf("annotation text differs from upstream's format:\n got %s\nwant %s", value, want)
	}
}

// TestNADCreatedAfterPod: a NAD that arrives a moment after its pod is
// waited for, not a failed ADD.
func TestNADCreatedAfterPod(t *testing.T) {
	ns := freshNamespace(t)
	pod := createPod(t, newPod(ns, "p", "node-late", map[string]string{"k8s.v1.cni.cncf.io/networks": "late"}))
	d := startDaemon(t, suite.daemonKC, kube.Config{NodeName: "node-late", NADRetryTimeout: 20 * time.Second})
	var wg sync.WaitGroup
	wg.Add(1)
	var ds []*netconf.Delegate
	var addErr error
	go func() {
		defer wg.Done()
		ds, addErr = d.add(context.Background(), attach.PodRef{Namespace: ns, Name: "p", UID: string(pod.UID)})
	}()
	time.Sleep(time.Second) // the NAD must really come later than the ADD
	createNAD(t, ns, "late", macvlanConf)
	wg.Wait()
	if addErr != nil {
		t.Fatalf("ADD failed although the NAD arrived within NADRetryTimeout: %v", addErr)
	}
	if len(ds) != 2 || ds[1].Name != ns+"/late" {
		t.Errorf("delegates = %d, want the cluster network and %s/late", len(ds), ns)
	}
}

// TestNamespaceIsolationDenied: a cross-namespace NAD is refused, with a
// Warning event on the pod.
func TestNamespaceIsolationDenied(t *testing.T) {
	ns, other := freshNamespace(t), freshNamespace(t)
	createNAD(t, other, "foreign", macvlanConf)
	pod := createPod(t, newPod(ns, "p", "node-iso", map[string]string{"k8s.v1.cni.cncf.io/networks": other + "/foreign"}))
	d := startDaemon(t, suite.daemonKC, kube.Config{NodeName: "node-iso"})
	d.conf.NamespaceIsolation = true
	_, err := d.add(context.Background(), attach.PodRef{Namespace: ns, Name: "p", UID: string(pod.UID)})
	if !errors.Is(err, resolve.ErrForbidden) || !strings.Contains(err.Error(), "pod "+ns+"/p") || !strings.Contains(err.Error(), other+"/foreign") {
		t.Fatalf("err = %v", err)
	}
	ev := waitEvent(t, ns, resolve.ReasonNetworkForbidden)
	if ev.Type != corev1.EventTypeWarning || ev.InvolvedObject.UID != pod.UID || ev.Source.Component != kube.EventComponent ||
		!strings.Contains(ev.Message, other+"/foreign") {
		t.Errorf("event = %+v", ev)
	}
}

// TestMissingNADEvent: a NAD that never comes fails after the bounded
// retry with NoNetworkFound naming it.
func TestMissingNADEvent(t *testing.T) {
	ns := freshNamespace(t)
	pod := createPod(t, newPod(ns, "p", "node-missing", map[string]string{"k8s.v1.cni.cncf.io/networks": "absent"}))
	d := startDaemon(t, suite.daemonKC, kube.Config{NodeName: "node-missing", NADRetryTimeout: time.Second})
	_, err := d.add(context.Background(), attach.PodRef{Namespace: ns, Name: "p", UID: string(pod.UID)})
	if !errors.Is(err, resolve.ErrNADNotFound) {
		t.Fatalf("err = %v", err)
	}
	ev := waitEvent(t, ns, resolve.ReasonNoNetworkFound)
	if want := fmt.Sprintf("cannot find a network-attachment-definition (absent) in namespace (%s)", ns); !strings.Contains(ev.Message, want) {
		t.Errorf("message %q does not contain %q", ev.Message, want)
	}
}

func waitEvent(t *testing.T, ns, reason string) corev1.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err := suite.admin.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range list.Items {
			if e.Reason == reason {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event in %s; have %d events", reason, ns, len(list.Items))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAPIServerOutage: while the API server is unreachable an ADD fails
// with an error that says what could not be done; once it is back the
// next ADD succeeds without restarting the daemon (multus-cni #1361).
func TestAPIServerOutage(t *testing.T) {
	ns := freshNamespace(t)
	createNAD(t, ns, "macvlan", macvlanConf)
	ann := map[string]string{"k8s.v1.cni.cncf.io/networks": "macvlan"}
	pod := createPod(t, newPod(ns, "p", "node-outage", ann))
	proxy := newOutageProxy(t)
	d := startDaemon(t, kubeconfigVia(t, proxy.addr), kube.Config{NodeName: "node-outage", APITimeout: 2 * time.Second})
	ctx := context.Background()
	ref := attach.PodRef{Namespace: ns, Name: "p", UID: string(pod.UID)}
	if _, err := d.add(ctx, ref); err != nil {
		t.Fatalf("ADD before the outage: %v", err)
	}

	proxy.down()
	_, err := d.add(ctx, ref)
	if err == nil || !strings.Contains(err.Error(), "network-status on pod "+ns+"/p") {
		t.Errorf("ADD of a cached pod during the outage: err = %v, want a failed network-status write naming the pod", err)
	}
	_, err = d.add(ctx, attach.PodRef{Namespace: ns, Name: "unseen"})
	if err == nil || errors.Is(err, attach.ErrPodNotFound) || !strings.Contains(err.Error(), "error waiting for pod "+ns+"/unseen") {
		t.Errorf("ADD of an uncached pod during the outage: err = %v, want a lookup error (not pod-not-found)", err)
	}

	proxy.up()
	if _, err := d.add(ctx, ref); err != nil {
		t.Fatalf("first ADD after the API server came back: %v", err)
	}
	// A pod created after the outage: the informer may still be backing
	// off, the live GET fallback must find it.
	pod2 := createPod(t, newPod(ns, "p2", "node-outage", ann))
	if _, err := d.add(ctx, attach.PodRef{Namespace: ns, Name: "p2", UID: string(pod2.UID)}); err != nil {
		t.Fatalf("ADD of a new pod after the outage: %v", err)
	}
}

// TestForeignPodsStayOutOfCache: with 5,000 pods bound to other nodes,
// the node-filtered informer holds only this node's pods.
func TestForeignPodsStayOutOfCache(t *testing.T) {
	const foreign, local, nads, workers = 5000, 3, 500, 16
	ns := freshNamespace(t)
	createPods(t, ns, "local", "node-cache", local, 1)
	rssBefore := idleRSS(t, "node-cache")
	createPods(t, ns, "foreign", "node-elsewhere", foreign, workers)
	for i := 0; i < nads; i++ {
		createNAD(t, ns, fmt.Sprintf("nad-%d", i), macvlanConf)
	}
	rssAfter := idleRSS(t, "node-cache")
	// A measurement, not an assertion: the target (issue 3) is a
	// difference under 5 MiB and an idle RSS under 30 MiB for the daemon.
	t.Logf("idle RSS of the Kubernetes side: %d KiB without foreign pods, %d KiB with %d foreign pods and %d NADs (%+d KiB)",
		rssBefore, rssAfter, foreign, nads, rssAfter-rssBefore)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	d := startDaemon(t, suite.daemonKC, kube.Config{NodeName: "node-cache"})
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	t.Logf("heap in use grew %d KiB after the caches synced (%d foreign pods in the API)",
		(int64(after.HeapInuse)-int64(before.HeapInuse))/1024, foreign)

	if got := d.client.CachedPods(); got != local {
		t.Fatalf("pod cache holds %d pods, want only this node's %d", got, local)
	}
	// A foreign pod is still reachable through the live GET fallback.
	if _, err := d.client.Pods().GetPod(context.Background(), attach.PodRef{Namespace: ns, Name: "foreign-0"}, attach.OpAdd); err != nil {
		t.Errorf("live GET fallback: %v", err)
	}
}

// createPods creates n pods with bounded concurrency.
func createPods(t *testing.T, ns, prefix, node string, n, workers int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	jobs := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				p := newPod(ns, fmt.Sprintf("%s-%d", prefix, i), node, nil)
				if _, err := suite.admin.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	func() {
		defer close(jobs)
		for i := 0; i < n; i++ {
			select {
			case jobs <- i:
			case err := <-errs:
				t.Errorf("create pod: %v", err)
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("create pod: %v", err)
	}
}
