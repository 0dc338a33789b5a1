package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	nadfake "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/client/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/multus-thick/multus-thick/src/api/netstatus"
	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/kubeapi/kubeapifake"
	"github.com/multus-thick/multus-thick/src/internal/resolve"
)

var podsGR = schema.GroupResource{Resource: "pods"}

// testClient returns a started client on fake clientsets.
func testClient(t *testing.T, cfg Config, objs ...runtime.Object) (*Client, *fake.Clientset, *nadfake.Clientset) {
	t.Helper()
	return testClientWith(t, cfg, nil, objs...)
}

// testClientWith is testClient with reactors installed before anything
// runs: the fake's reactor chain is not safe to change while informers
// use it.
func testClientWith(t *testing.T, cfg Config, reactors func(*fake.Clientset), objs ...runtime.Object) (*Client, *fake.Clientset, *nadfake.Clientset) {
	t.Helper()
	var coreObjs, nadObjs []runtime.Object
	for _, o := range objs {
		if _, ok := o.(*nadv1.NetworkAttachmentDefinition); ok {
			nadObjs = append(nadObjs, o)
		} else {
			coreObjs = append(coreObjs, o)
		}
	}
	// NADs are created through the client: the fake's tracker would file
	// preloaded objects under a guessed resource name the client never asks.
	core, nads := fake.NewClientset(coreObjs...), nadfake.NewSimpleClientset()
	for _, o := range nadObjs {
		n := o.(*nadv1.NetworkAttachmentDefinition)
		if _, err := nads.K8sCniCncfIoV1().NetworkAttachmentDefinitions(n.Namespace).Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if cfg.PodLookupTimeout == 0 {
		cfg.PodLookupTimeout = 300 * time.Millisecond
	}
	if cfg.NADRetryTimeout == 0 {
		cfg.NADRetryTimeout = 300 * time.Millisecond
	}
	cfg.SyncTimeout = 10 * time.Second
	if reactors != nil {
		reactors(core)
	}
	c := newClient(cfg, nil, kubeapifake.Core(core.CoreV1()), nads.K8sCniCncfIoV1())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return c, core, nads
}

func testPod(ns, name, uid string, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name, UID: k8stypes.UID(uid), Annotations: annotations,
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		},
		Spec: corev1.PodSpec{
			NodeName: "node-a",
			Volumes:  []corev1.Volume{{Name: "v"}},
			Containers: []corev1.Container{{
				Name: "c", Command: []string{"sleep"}, Env: []corev1.EnvVar{{Name: "A", Value: "B"}},
			}},
		},
	}
}

func TestGetPod(t *testing.T) {
	static := testPod("ns", "static", "mirror-uid", map[string]string{configSourceAnnotation: "file"})
	tests := []struct {
		name    string
		ref     attach.PodRef
		op      attach.Op
		wantErr string
		wantIs  error
	}{
		{name: "cached pod", ref: attach.PodRef{Namespace: "ns", Name: "p", UID: "uid-1"}},
		{name: "no UID from the runtime", ref: attach.PodRef{Namespace: "ns", Name: "p"}},
		{name: "missing pod on ADD", ref: attach.PodRef{Namespace: "ns", Name: "gone"}, wantIs: attach.ErrPodNotFound},
		{name: "missing pod on DEL", ref: attach.PodRef{Namespace: "ns", Name: "gone"}, op: attach.OpDel, wantIs: attach.ErrPodNotFound},
		{name: "recreated pod on ADD", ref: attach.PodRef{Namespace: "ns", Name: "p", UID: "old-uid"},
			wantErr: `expected pod UID "old-uid" but got "uid-1"`},
		{name: "recreated pod on DEL", ref: attach.PodRef{Namespace: "ns", Name: "p", UID: "old-uid"}, op: attach.OpDel, wantIs: attach.ErrPodNotFound},
		{name: "static pod UID differs", ref: attach.PodRef{Namespace: "ns", Name: "static", UID: "static-uid"}},
	}
	c, _, _ := testClient(t, Config{}, testPod("ns", "p", "uid-1", nil), static)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod, err := c.Pods().GetPod(context.Background(), tc.ref, tc.op)
			switch {
			case tc.wantIs != nil:
				if !errors.Is(err, tc.wantIs) {
					t.Fatalf("err = %v, want %v", err, tc.wantIs)
				}
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || errors.Is(err, attach.ErrPodNotFound) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case pod.Name != tc.ref.Name || len(pod.ManagedFields) != 0 || len(pod.Spec.Volumes) != 0 || len(pod.Spec.Containers) != 0:
				t.Fatalf("pod not found or not trimmed: %+v", pod)
			}
		})
	}
}

// TestGetPodLateInCache: ADD waits for a pod the informer has not
// delivered yet instead of failing.
func TestGetPodLateInCache(t *testing.T) {
	var gets atomic.Int32
	c, core, _ := testClientWith(t, Config{PodLookupTimeout: 5 * time.Second}, func(core *fake.Clientset) {
		core.PrependReactor("get", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
			gets.Add(1)
			return false, nil, nil
		})
	})
	go func() {
		time.Sleep(100 * time.Millisecond)
		_, _ = core.CoreV1().Pods("ns").Create(context.Background(), testPod("ns", "late", "u", nil), metav1.CreateOptions{})
	}()
	if _, err := c.Pods().GetPod(context.Background(), attach.PodRef{Namespace: "ns", Name: "late", UID: "u"}, attach.OpAdd); err != nil {
		t.Fatal(err)
	}
	if gets.Load() != 0 {
		t.Errorf("%d live GETs; the pod should have come from the cache", gets.Load())
	}
}

// TestGetPodAPIDown: a failing API is "error waiting for pod" on ADD (not
// the placeholder-result case) and "not found" on DEL.
func TestGetPodAPIDown(t *testing.T) {
	c, _, _ := testClientWith(t, Config{}, func(core *fake.Clientset) {
		core.PrependReactor("get", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewServiceUnavailable("down")
		})
	})
	ref := attach.PodRef{Namespace: "ns", Name: "p"}
	_, err := c.Pods().GetPod(context.Background(), ref, attach.OpAdd)
	if err == nil || errors.Is(err, attach.ErrPodNotFound) || !strings.Contains(err.Error(), "error waiting for pod ns/p") {
		t.Errorf("ADD: err = %v", err)
	}
	if _, err := c.Pods().GetPod(context.Background(), ref, attach.OpDel); !errors.Is(err, attach.ErrPodNotFound) || !apierrors.IsServiceUnavailable(errors.Unwrap(err)) && !strings.Contains(err.Error(), "down") {
		t.Errorf("DEL: err = %v", err)
	}
}

func TestGetNAD(t *testing.T) {
	cached := &nadv1.NetworkAttachmentDefinition{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cached"}}
	c, _, nads := testClient(t, Config{NADRetryTimeout: 5 * time.Second}, cached)
	ctx := context.Background()
	if _, err := c.NADs().GetNAD(ctx, "ns", "cached"); err != nil {
		t.Fatal(err)
	}
	// A NAD created a moment after the request is still found.
	go func() {
		time.Sleep(300 * time.Millisecond)
		late := &nadv1.NetworkAttachmentDefinition{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "late"}}
		_, _ = nads.K8sCniCncfIoV1().NetworkAttachmentDefinitions("ns").Create(ctx, late, metav1.CreateOptions{})
	}()
	if _, err := c.NADs().GetNAD(ctx, "ns", "late"); err != nil {
		t.Fatalf("late NAD: %v", err)
	}
	// The probe does not wait.
	start := time.Now()
	if _, err := c.NADs().(resolve.NADProber).ProbeNAD(ctx, "ns", "never"); !errors.Is(err, resolve.ErrNADNotFound) {
		t.Fatalf("probe: err = %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("ProbeNAD waited %s", time.Since(start))
	}
}

func TestGetNADGivesUp(t *testing.T) {
	c, _, _ := testClient(t, Config{NADRetryTimeout: 200 * time.Millisecond})
	_, err := c.NADs().GetNAD(context.Background(), "ns", "never")
	if !errors.Is(err, resolve.ErrNADNotFound) || !strings.Contains(err.Error(), "after retrying") {
		t.Fatalf("err = %v", err)
	}
}

func TestUpdateNetworkStatus(t *testing.T) {
	// The first update conflicts: the write must be retried.
	var conflicts atomic.Int32
	c, core, _ := testClientWith(t, Config{}, func(core *fake.Clientset) {
		core.PrependReactor("update", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
			if a.GetSubresource() != "status" {
				t.Errorf("update without the status subresource: %v", a)
			}
			if conflicts.Add(1) == 1 {
				return true, nil, apierrors.NewConflict(podsGR, "p", errors.New("stale"))
			}
			return false, nil, nil
		})
	}, testPod("ns", "p", "uid-1", nil))
	ctx := context.Background()
	ref := attach.PodRef{Namespace: "ns", Name: "p", UID: "uid-1"}
	eth0 := nadv1.NetworkStatus{Name: "flannel", Interface: "eth0", IPs: []string{"10.1.0.5"}, Default: true}
	net1 := nadv1.NetworkStatus{Name: "ns/macvlan", Interface: "net1", IPs: []string{"192.168.1.5"}, Mac: "02:00:00:00:00:01"}
	set := func(want ...nadv1.NetworkStatus) func([]nadv1.NetworkStatus) []nadv1.NetworkStatus {
		return func([]nadv1.NetworkStatus) []nadv1.NetworkStatus { return want }
	}
	if err := c.Status().UpdateNetworkStatus(ctx, ref, set(eth0, net1)); err != nil {
		t.Fatal(err)
	}
	if conflicts.Load() < 2 {
		t.Errorf("conflict was not retried (%d updates)", conflicts.Load())
	}
	pod, _ := core.CoreV1().Pods("ns").Get(ctx, "p", metav1.GetOptions{})
	want, _ := netstatus.Format([]nadv1.NetworkStatus{eth0, net1})
	if got := pod.Annotations[nadv1.NetworkStatusAnnot]; got != want {
		t.Fatalf("annotation = %s\nwant %s", got, want)
	}
	if !strings.HasPrefix(want, "[{\n    \"name\": \"flannel\",") || !strings.Contains(want, "},{\n") {
		t.Errorf("not upstream's format: %s", want)
	}
	// /delegate DEL merges one interface out; the mutate sees the current list.
	err := c.Status().UpdateNetworkStatus(ctx, ref, func(cur []nadv1.NetworkStatus) []nadv1.NetworkStatus {
		if len(cur) != 2 {
			t.Errorf("mutate got %d current entries", len(cur))
		}
		return cur[:1]
	})
	if err != nil {
		t.Fatal(err)
	}
	pod, _ = core.CoreV1().Pods("ns").Get(ctx, "p", metav1.GetOptions{})
	if got, _ := netstatus.Parse(pod.Annotations[nadv1.NetworkStatusAnnot]); len(got) != 1 || got[0].Name != "flannel" {
		t.Errorf("after merge: %v", got)
	}
	// A pod gone, or recreated, is not an error and is not written.
	if err := c.Status().UpdateNetworkStatus(ctx, attach.PodRef{Namespace: "ns", Name: "gone"}, set(eth0)); err != nil {
		t.Errorf("gone pod: %v", err)
	}
	before := conflicts.Load()
	if err := c.Status().UpdateNetworkStatus(ctx, attach.PodRef{Namespace: "ns", Name: "p", UID: "other"}, set(net1)); err != nil {
		t.Errorf("recreated pod: %v", err)
	}
	if conflicts.Load() != before {
		t.Error("the status of a recreated pod was written")
	}
}

// SetNetworkStatus is one merge patch of pods/status, with the UID and no
// read first; an empty list removes the annotation.
func TestSetNetworkStatus(t *testing.T) {
	var patches []string
	var others atomic.Int32
	c, core, _ := testClientWith(t, Config{}, func(core *fake.Clientset) {
		core.PrependReactor("*", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
			switch p := a.(type) {
			case k8stesting.PatchAction:
				if p.GetSubresource() != "status" || p.GetPatchType() != k8stypes.MergePatchType {
					t.Errorf("patch %s of %q, want a merge patch of status", p.GetPatchType(), p.GetSubresource())
				}
				patches = append(patches, string(p.GetPatch()))
			case k8stesting.ListAction, k8stesting.WatchAction:
			default:
				others.Add(1)
			}
			return false, nil, nil
		})
	}, testPod("ns", "p", "uid-1", map[string]string{"keep": "me"}))
	ctx := context.Background()
	ref := attach.PodRef{Namespace: "ns", Name: "p", UID: "uid-1"}
	eth0 := nadv1.NetworkStatus{Name: "flannel", Interface: "eth0", IPs: []string{"10.1.0.5"}, Default: true}
	if err := c.Status().SetNetworkStatus(ctx, ref, []nadv1.NetworkStatus{eth0}); err != nil {
		t.Fatal(err)
	}
	pod, _ := core.CoreV1().Pods("ns").Get(ctx, "p", metav1.GetOptions{})
	want, _ := netstatus.Format([]nadv1.NetworkStatus{eth0})
	if got := pod.Annotations[nadv1.NetworkStatusAnnot]; got != want || pod.Annotations["keep"] != "me" {
		t.Fatalf("annotations = %v, want network-status %s and the others kept", pod.Annotations, want)
	}
	if err := c.Status().SetNetworkStatus(ctx, ref, nil); err != nil {
		t.Fatal(err)
	}
	pod, _ = core.CoreV1().Pods("ns").Get(ctx, "p", metav1.GetOptions{})
	if v, ok := pod.Annotations[nadv1.NetworkStatusAnnot]; ok {
		t.Errorf("empty list left the annotation: %s", v)
	}
	if len(patches) != 2 || !strings.Contains(patches[0], `"uid":"uid-1"`) || !strings.Contains(patches[1], `"k8s.v1.cni.cncf.io/network-status":null`) {
		t.Errorf("patches = %q", patches)
	}
	// The test's own two GETs are the only other pod requests.
	if n := others.Load(); n != 2 {
		t.Errorf("%d pod requests besides the patches and the informer's, want the test's 2 GETs", n)
	}
	// A pod that is gone is not an error.
	if err := c.Status().SetNetworkStatus(ctx, attach.PodRef{Namespace: "ns", Name: "gone", UID: "x"}, []nadv1.NetworkStatus{eth0}); err != nil {
		t.Errorf("gone pod: %v", err)
	}
}

func TestEvents(t *testing.T) {
	c, core, _ := testClient(t, Config{})
	pod := testPod("ns", "p", "uid-1", nil)
	c.Events().AddedInterface(pod, "net1", []string{"10.0.0.5/24"}, "ns/macvlan")
	c.Events().AddFailed(pod, "ns/macvlan", "macvlan", 7, errors.New("boom"))
	c.Events().(resolve.Warner).Warning(pod, resolve.ReasonNoNetworkFound, "cannot find a network-attachment-definition (x) in namespace (ns)")
	want := map[string]string{
		"AddedInterface": "Normal/Add net1 [10.0.0.5/24] from ns/macvlan",
		"AddFailed":      `Warning/network "ns/macvlan" (type macvlan) failed with CNI error code 7: boom`,
		"NoNetworkFound": "Warning/cannot find a network-attachment-definition (x) in namespace (ns)",
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := core.CoreV1().Events("ns").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, e := range list.Items {
			got[e.Reason] = e.Type + "/" + e.Message
			if e.Source.Component != EventComponent || e.InvolvedObject.Name != "p" {
				t.Errorf("event %s: source %q object %q", e.Reason, e.Source.Component, e.InvolvedObject.Name)
			}
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events = %v\nwant %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
