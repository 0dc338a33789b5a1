package deviceid

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/multus-thick/multus-thick/src/internal/kubeapi/kubeapifake"
	"github.com/multus-thick/multus-thick/src/internal/resolve"
)

const (
	node   = "node-a"
	driver = "net.example.com"
)

// netDev is a device with the CNI attributes; an empty value leaves the
// attribute out.
func netDev(name, id, resource string) resourcev1.Device {
	attrs := map[resourcev1.QualifiedName]resourcev1.DeviceAttribute{}
	if id != "" {
		attrs[AttrDeviceID] = resourcev1.DeviceAttribute{StringValue: ref(id)}
	}
	if resource != "" {
		attrs[AttrResourceName] = resourcev1.DeviceAttribute{StringValue: ref(resource)}
	}
	return resourcev1.Device{Name: name, Attributes: attrs}
}

func slice(name, nodeName, drv, pool string, gen int64, devs ...resourcev1.Device) *resourcev1.ResourceSlice {
	return &resourcev1.ResourceSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: resourcev1.ResourceSliceSpec{
			Driver: drv, NodeName: ref(nodeName), Devices: devs,
			Pool: resourcev1.ResourcePool{Name: pool, Generation: gen, ResourceSliceCount: 1},
		},
	}
}

func result(req, drv, pool, dev string) resourcev1.DeviceRequestAllocationResult {
	return resourcev1.DeviceRequestAllocationResult{Request: req, Driver: drv, Pool: pool, Device: dev}
}

// allocated is a claim in namespace ns with these allocation results.
func allocated(name string, results ...resourcev1.DeviceRequestAllocationResult) *resourcev1.ResourceClaim {
	c := pending(name)
	c.Status.Allocation = &resourcev1.AllocationResult{Devices: resourcev1.DeviceAllocationResult{Results: results}}
	return c
}

// pending is a claim that has not been allocated.
func pending(name string) *resourcev1.ResourceClaim {
	return &resourcev1.ResourceClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
}

// claimPod is a pod on node that names the claims directly.
func claimPod(claims ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "uid-1"}, Spec: corev1.PodSpec{NodeName: node}}
	for i, c := range claims {
		p.Spec.ResourceClaims = append(p.Spec.ResourceClaims, corev1.PodResourceClaim{Name: fmt.Sprintf("c%d", i), ResourceClaimName: ref(c)})
	}
	return p
}

func withStatus(p *corev1.Pod, f func(*corev1.PodStatus)) *corev1.Pod { f(&p.Status); return p }

func TestDRADeviceIDs(t *testing.T) {
	vfs := slice("s1", node, driver, "pool", 1,
		netDev("vf2", "0000:03:00.2", "example.com/sriov"),
		netDev("vf1", "0000:03:00.1", "example.com/sriov"),
		netDev("gpu", "", ""),
		netDev("vf9", "0000:09:00.1", "example.com/other"))
	tests := []struct {
		name    string
		pod     *corev1.Pod
		objects []runtime.Object
		// checkpoint is the kubelet's device checkpoint ("" none).
		checkpoint string
		want       string
		// incomplete: the error wraps resolve.ErrDevicesIncomplete and
		// contains each of errs; otherwise errs empty means no error.
		incomplete bool
		errs       []string
		wantLog    string
		// calls is the number of API calls expected (-1: not checked).
		calls int
	}{
		{name: "no claims: no API call", pod: claimPod(), objects: []runtime.Object{vfs}, want: "map[]", calls: 0},
		{name: "one claim, two devices, sorted", pod: claimPod("net"),
			objects: []runtime.Object{vfs, allocated("net", result("r", driver, "pool", "vf2"), result("r", driver, "pool", "vf1"))},
			want:    "map[example.com/sriov:[0000:03:00.1 0000:03:00.2]]", calls: 2},
		{name: "template claim named in the status",
			pod: withStatus(claimPod(), func(s *corev1.PodStatus) {
				s.ResourceClaimStatuses = []corev1.PodResourceClaimStatus{{Name: "t", ResourceClaimName: ref("p-t-xyz")}, {Name: "unneeded"}}
			}),
			objects: []runtime.Object{vfs, allocated("p-t-xyz", result("r", driver, "pool", "vf9"))},
			want:    "map[example.com/other:[0000:09:00.1]]", calls: 2},
		{name: "slices listed once per driver, claim read once",
			pod: withStatus(claimPod("a", "b", "a"), func(s *corev1.PodStatus) {
				s.ResourceClaimStatuses = []corev1.PodResourceClaimStatus{{Name: "x", ResourceClaimName: ref("b")}}
			}),
			objects: []runtime.Object{vfs, allocated("a", result("r", driver, "pool", "vf1")), allocated("b", result("r", driver, "pool", "vf2"))},
			want:    "map[example.com/sriov:[0000:03:00.1 0000:03:00.2]]", calls: 3},
		{name: "device plugin and DRA devices of one resource merged", pod: claimPod("net"),
			checkpoint: `{"Data":{"PodDeviceEntries":[{"PodUID":"uid-1","ResourceName":"example.com/sriov","DeviceIDs":["0000:03:00.0"]}]}}`,
			objects:    []runtime.Object{vfs, allocated("net", result("r", driver, "pool", "vf2"))},
			want:       "map[example.com/sriov:[0000:03:00.0 0000:03:00.2]]", calls: 2},
		{name: "device without the attributes skipped with a warning", pod: claimPod("gpu"),
			objects: []runtime.Object{vfs, allocated("gpu", result("r", driver, "pool", "gpu"))},
			want:    "map[]", wantLog: "device=net.example.com/pool/gpu", calls: 2},
		{name: "only the newest generation of a pool counts", pod: claimPod("net"),
			objects: []runtime.Object{
				slice("old", node, driver, "pool", 1, netDev("vf1", "stale", "example.com/sriov")),
				slice("new", node, driver, "pool", 2, netDev("vf1", "0000:03:00.1", "example.com/sriov")),
				allocated("net", result("r", driver, "pool", "vf1"))},
			want: "map[example.com/sriov:[0000:03:00.1]]", calls: 2},
		{name: "claim not allocated", pod: claimPod("net", "ok"),
			objects: []runtime.Object{vfs, pending("net"), allocated("ok", result("r", driver, "pool", "vf1"))},
			want:    "map[example.com/sriov:[0000:03:00.1]]", incomplete: true, errs: []string{"resourceclaim ns/net is not allocated"}, calls: -1},
		{name: "claim missing", pod: claimPod("gone"), objects: []runtime.Object{vfs},
			want: "map[]", incomplete: true, errs: []string{"resourceclaim ns/gone:", "not found"}, calls: 1},
		{name: "device in no slice of the node", pod: claimPod("net"),
			objects: []runtime.Object{
				slice("elsewhere", "node-b", driver, "pool", 1, netDev("vf7", "0000:07:00.1", "example.com/sriov")),
				slice("other-driver", node, "gpu.example.com", "pool", 1, netDev("vf7", "0000:07:00.1", "example.com/sriov")),
				allocated("net", result("r", driver, "pool", "vf7"))},
			want: "map[]", incomplete: true,
			errs: []string{`resourceclaim ns/net: allocated device net.example.com/pool/vf7 is in no ResourceSlice of node "node-a"`}, calls: 2},
		{name: "extended resource: strict rules pass",
			pod: withStatus(claimPod(), func(s *corev1.PodStatus) {
				s.ExtendedResourceClaimStatus = &corev1.PodExtendedResourceClaimStatus{ResourceClaimName: "ext",
					RequestMappings: []corev1.ContainerExtendedResourceRequest{{ContainerName: "c", ResourceName: "example.com/sriov", RequestName: "req-0"}}}
			}),
			objects: []runtime.Object{vfs, allocated("ext", result("req-0", driver, "pool", "vf1"))},
			want:    "map[example.com/sriov:[0000:03:00.1]]", calls: 2},
		{name: "extended resource: mismatched and missing attributes are errors",
			pod: withStatus(claimPod(), func(s *corev1.PodStatus) {
				s.ExtendedResourceClaimStatus = &corev1.PodExtendedResourceClaimStatus{ResourceClaimName: "ext",
					RequestMappings: []corev1.ContainerExtendedResourceRequest{
						{ContainerName: "c", ResourceName: "example.com/sriov", RequestName: "req-0"},
						{ContainerName: "c", ResourceName: "example.com/sriov", RequestName: "req-1"}}}
			}),
			objects: []runtime.Object{vfs, allocated("ext", result("req-0", driver, "pool", "vf9"), result("req-1/sub", driver, "pool", "gpu"))},
			want:    "map[]", incomplete: true, calls: 2,
			errs: []string{
				`resourceclaim ns/ext: device net.example.com/pool/vf9 of extended resource "example.com/sriov" has k8s.cni.cncf.io/resourceName "example.com/other"`,
				`resourceclaim ns/ext: device net.example.com/pool/gpu of extended resource "example.com/sriov" has no k8s.cni.cncf.io/deviceID attribute`,
			}},
		{name: "pod not bound to a node", pod: func() *corev1.Pod { p := claimPod("net"); p.Spec.NodeName = ""; return p }(),
			objects: []runtime.Object{vfs, allocated("net", result("r", driver, "pool", "vf1"))},
			want:    "map[]", incomplete: true, errs: []string{"pod ns/p is not bound to a node"}, calls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkpoint := filepath.Join(t.TempDir(), "checkpoint")
			if tc.checkpoint != "" {
				if err := os.WriteFile(checkpoint, []byte(tc.checkpoint), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			client := fake.NewClientset(tc.objects...)
			var logs bytes.Buffer
			src := New(Config{PodResourcesSocket: "/nonexistent.sock", CheckpointFile: checkpoint, Client: kubeapifake.Resource(client.ResourceV1()),
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			got, err := src.DeviceIDs(context.Background(), tc.pod)
			if fmt.Sprint(got) != tc.want {
				t.Errorf("devices = %v, want %s", got, tc.want)
			}
			switch {
			case tc.incomplete && !errors.Is(err, resolve.ErrDevicesIncomplete):
				t.Errorf("err = %v, want one wrapping ErrDevicesIncomplete", err)
			case !tc.incomplete && err != nil:
				t.Errorf("unexpected error: %v", err)
			}
			for _, want := range tc.errs {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v does not contain %q", err, want)
				}
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			if tc.wantLog != "" && !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log %q does not contain %q", logs.String(), tc.wantLog)
			}
			if n := len(client.Actions()); tc.calls >= 0 && n != tc.calls {
				t.Errorf("%d API calls, want %d: %v", n, tc.calls, client.Actions())
			}
		})
	}
}

// TestOneDeadline: a kubelet that never answers ends the whole lookup at
// the Source's one timeout, with the deadline in the error.
func TestOneDeadline(t *testing.T) {
	sock := serveKubelet(t, nil)
	src := New(Config{PodResourcesSocket: sock, Timeout: 50 * time.Millisecond, Client: kubeapifake.Resource(fake.NewClientset().ResourceV1())})
	_, err := src.DeviceIDs(context.Background(), claimPod("net"))
	if err == nil || !strings.Contains(err.Error(), "DeadlineExceeded") {
		t.Fatalf("err = %v, want the deadline", err)
	}
}

func TestNoClientNoDRA(t *testing.T) {
	got, err := New(Config{PodResourcesSocket: "/nonexistent.sock", CheckpointFile: "/nonexistent"}).DeviceIDs(context.Background(), claimPod("net"))
	if err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v; want no devices and no error without a client", got, err)
	}
}

func ref[T any](v T) *T { return &v }
