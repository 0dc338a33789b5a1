//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	nadclient "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/deviceid"
	"github.com/multus-thick/multus-thick/src/internal/kube"
	"github.com/multus-thick/multus-thick/src/internal/resolve"
	"github.com/multus-thick/multus-thick/src/internal/testutil"
)

const (
	driver   = "net.example.com"
	resource = "example.com/sriov"
)

// The NADs every case's namespace gets: a single conf and a conflist of
// resource example.com/sriov (both declaring the deviceID capability), a
// NAD without resourceName, and one whose resource the pod has no device of.
var nads = map[string]struct{ config, resource string }{
	"sriov":      {`{"cniVersion":"1.0.0","type":"sriov-rec","capabilities":{"deviceID":true,"CNIDeviceInfoFile":true}}`, resource},
	"sriov-list": {`{"cniVersion":"1.0.0","name":"sriov-list","plugins":[{"type":"sriov-rec","capabilities":{"deviceID":true}},{"type":"tuning-rec"}]}`, resource},
	"plain":      {`{"cniVersion":"1.0.0","type":"plain-rec"}`, ""},
	"absent":     {`{"cniVersion":"1.0.0","type":"absent-rec"}`, "example.com/absent"},
}

// The devices of the node's slice: two with the CNI attributes, one
// without (a GPU, say).
var slice = []resourcev1.Device{
	netDev("vf1", "0000:03:00.1", resource),
	netDev("vf2", "0000:03:00.2", resource),
	{Name: "gpu0"},
}

// TestDRADeviceIDsReachTheDelegates runs the daemon's ADD path (kube
// client as the daemon's identity, resolver, deviceid.Source, attacher)
// against a real API server holding a DeviceClass, ResourceSlices, a
// ResourceClaim whose allocation the test writes, and a pod referencing
// it. A recording exec stands in for the delegates.
func TestDRADeviceIDsReachTheDelegates(t *testing.T) {
	type want struct {
		// deviceID by delegate name ("" none), in the delegate's config and
		// runtimeConfig; for a conflist in every plugin.
		ids map[string]string
		// errs: the ADD fails with each substring; warning: a pod event.
		errs    []string
		warning string
		log     string
		// noDRACalls: the lookup must not reach resource.k8s.io.
		noDRACalls bool
	}
	tests := []struct {
		name     string
		networks string
		// alloc are "pool/device" results; "" pool is the node's own;
		// nil: the claim is left unallocated.
		alloc []string
		want  want
	}{
		{name: "one NAD gets the allocated device", networks: "sriov", alloc: []string{"/vf2"},
			want: want{ids: map[string]string{"sriov": "0000:03:00.2"}}},
		{name: "two NADs of one resource take successive devices", networks: "sriov-list,sriov", alloc: []string{"/vf2", "/vf1"},
			want: want{ids: map[string]string{"sriov-list": "0000:03:00.1", "sriov": "0000:03:00.2"}}},
		{name: "a NAD without resourceName gets nothing and costs no DRA call", networks: "plain", alloc: []string{"/vf1"},
			want: want{ids: map[string]string{"plain": ""}, noDRACalls: true}},
		{name: "claim not allocated", networks: "sriov", alloc: nil,
			want: want{errs: []string{"network-attachment-definition NS/sriov", `no device of resource "example.com/sriov"`, "resourceclaim NS/net is not allocated"}}},
		{name: "device without the attributes: skipped, warned", networks: "sriov", alloc: []string{"/gpu0"},
			want: want{ids: map[string]string{"sriov": ""}, log: "device=net.example.com/NODE/gpu0",
				warning: `network-attachment-definition NS/sriov: the pod has no device of resource "example.com/sriov" left`}},
		{name: "resourceName naming no device of this pod", networks: "absent", alloc: []string{"/vf1"},
			want: want{ids: map[string]string{"absent": ""},
				warning: `network-attachment-definition NS/absent: the pod has no device of resource "example.com/absent" left`}},
		{name: "allocated device in no slice of the node", networks: "sriov", alloc: []string{"elsewhere/vf1"},
			want: want{errs: []string{"network-attachment-definition NS/sriov",
				`resourceclaim NS/net: allocated device net.example.com/elsewhere/vf1 is in no ResourceSlice of node "NODE"`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns := freshNamespace(t)
			node := ns + "-node"
			expand := func(s string) string {
				return strings.ReplaceAll(strings.ReplaceAll(s, "NS/", ns+"/"), "NODE", node)
			}
			createNADs(t, ns)
			createDRAObjects(t, ns, node, tc.alloc)
			pod := createClaimPod(t, ns, node, tc.networks)
			r := newRig(t, node)

			_, err := r.add(pod)
			if tc.want.errs != nil {
				for _, s := range tc.want.errs {
					if err == nil || !strings.Contains(err.Error(), expand(s)) {
						t.Errorf("ADD error %v does not contain %q", err, expand(s))
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ADD: %v", err)
			}
			for name, id := range tc.want.ids {
				r.checkDeviceID(t, name, id)
			}
			if tc.want.noDRACalls && r.draCalls.Load() != 0 {
				t.Errorf("%d calls to resource.k8s.io for a pod whose NADs have no resourceName", r.draCalls.Load())
			}
			if tc.want.warning != "" {
				waitEvent(t, ns, pod.Name, resolve.ReasonNoDevice, expand(tc.want.warning))
			}
			if tc.want.log != "" && !strings.Contains(r.logs.String(), expand(tc.want.log)) {
				t.Errorf("daemon log does not contain %q:\n%s", expand(tc.want.log), r.logs.String())
			}
		})
	}
}

// TestDeviceInfoInNetworkStatus: a device-info file written for the
// allocated device (as a device plugin or DRA driver does) reaches the
// delegate as CNIDeviceInfoFile and the pod's network-status as
// device-info; a pod without claims makes no DRA call.
func TestDeviceInfoInNetworkStatus(t *testing.T) {
	ns := freshNamespace(t)
	node := ns + "-node"
	createNADs(t, ns)
	createDRAObjects(t, ns, node, []string{"/vf1"})
	pod := createClaimPod(t, ns, node, "sriov")
	r := newRig(t, node)
	info := `{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:03:00.1"}}`
	dp := filepath.Join(r.devInfoDir, "dp", "example.com-sriov-0000:03:00.1-device.json")
	if err := os.MkdirAll(filepath.Dir(dp), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dp, []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.add(pod); err != nil {
		t.Fatal(err)
	}
	c := r.exec.find(t, "sriov")
	rc, _ := c.Stdin["runtimeConfig"].(map[string]any)
	if f, _ := rc["CNIDeviceInfoFile"].(string); !strings.HasPrefix(f, filepath.Join(r.devInfoDir, "cni")+"/") {
		t.Errorf("CNIDeviceInfoFile = %q, want a file under %s/cni", f, r.devInfoDir)
	}
	got, err := suite.admin.CoreV1().Pods(ns).Get(context.Background(), pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var statuses []nadv1.NetworkStatus
	if err := json.Unmarshal([]byte(got.Annotations[nadv1.NetworkStatusAnnot]), &statuses); err != nil {
		t.Fatalf("network-status: %v", err)
	}
	var found bool
	for _, st := range statuses {
		if st.Name == ns+"/sriov" {
			found = st.DeviceInfo != nil && st.DeviceInfo.Pci != nil && st.DeviceInfo.Pci.PciAddress == "0000:03:00.1"
		}
	}
	if !found {
		t.Errorf("network-status has no device-info with pci-address 0000:03:00.1: %s", got.Annotations[nadv1.NetworkStatusAnnot])
	}

	// The same NAD for a pod without claims: kubelet only, no API call.
	noClaims := createPlainPod(t, ns, node, "sriov")
	before := r.draCalls.Load()
	if _, err := r.add(noClaims); err != nil {
		t.Fatal(err)
	}
	if n := r.draCalls.Load() - before; n != 0 {
		t.Errorf("%d calls to resource.k8s.io for a pod without claims", n)
	}
}

// rig is the daemon's ADD path with a recording exec.
type rig struct {
	att        *attach.Attacher
	exec       *recExec
	conf       []byte
	devInfoDir string
	logs       *testutil.SyncBuffer
	log        *slog.Logger
	draCalls   *atomic.Int32
}

func newRig(t *testing.T, node string) *rig {
	t.Helper()
	dir := t.TempDir()
	r := &rig{exec: &recExec{}, devInfoDir: filepath.Join(dir, "devinfo"), logs: &testutil.SyncBuffer{}}
	r.log = slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(r.logs.String())
		}
	})
	kc, err := kube.New(kube.Config{Kubeconfig: suite.daemonKC, NodeName: node, APITimeout: 5 * time.Second,
		PodLookupTimeout: 5 * time.Second, SyncTimeout: time.Minute}, r.log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := kc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// The lookup's client counts its requests (the daemon passes
	// kc.Resource(), the same client on the same identity).
	client, calls := countingResource(t)
	r.draCalls = calls
	devices := deviceid.New(deviceid.Config{PodResourcesSocket: filepath.Join(dir, "none.sock"),
		CheckpointFile: filepath.Join(dir, "none"), Client: client, Logger: r.log})
	res := resolve.New(resolve.Options{NADs: kc.NADs(), Events: kc.Events(), DeviceIDs: devices, Logger: r.log})
	if r.att, err = attach.New(attach.Options{Pods: kc.Pods(), Resolver: res, Status: kc.Status(), Events: kc.Events(),
		Exec: r.exec, DevInfoDir: r.devInfoDir, BinDir: filepath.Join(dir, "bin"), CNIDir: filepath.Join(dir, "cni")}); err != nil {
		t.Fatal(err)
	}
	confDir := filepath.Join(dir, "net.d")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(confDir, "10-cluster.conf"), []byte(`{"cniVersion":"1.0.0","name":"cluster","type":"cluster-rec"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r.conf, _ = json.Marshal(map[string]any{"cniVersion": "1.0.0", "name": "multus-cni-network", "type": "multus-shim",
		"clusterNetwork": "cluster", "confDir": confDir, "cniDir": filepath.Join(dir, "cni"), "binDir": filepath.Join(dir, "bin")})
	return r
}

func (r *rig) add(pod *corev1.Pod) (types.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.att.Add(ctx, &attach.Request{Command: "ADD", ContainerID: "ctr-" + pod.Name, IfName: "eth0",
		Pod: attach.PodRef{Namespace: pod.Namespace, Name: pod.Name, UID: string(pod.UID)}, Config: r.conf,
		Logger: r.log.With("pod", pod.Name)})
}

// checkDeviceID: every plugin of the delegate whose CNI name is name has deviceID and
// pciBusID id in its config (none when id is ""), and a plugin declaring
// the capability has it in runtimeConfig.
func (r *rig) checkDeviceID(t *testing.T, name, id string) {
	t.Helper()
	calls := r.exec.all(name)
	if len(calls) == 0 {
		t.Fatalf("delegate %s was not called; calls: %v", name, r.exec.names())
	}
	for _, c := range calls {
		got, _ := c.Stdin["deviceID"].(string)
		bus, _ := c.Stdin["pciBusID"].(string)
		rc, _ := c.Stdin["runtimeConfig"].(map[string]any)
		rcID, _ := rc["deviceID"].(string)
		_, declares := c.Stdin["capabilities"]
		if got != id || bus != id {
			t.Errorf("%s plugin %s: deviceID %q, pciBusID %q, want %q", name, c.Stdin["type"], got, bus, id)
		}
		if declares && rcID != id {
			t.Errorf("%s plugin %s: runtimeConfig.deviceID %q, want %q", name, c.Stdin["type"], rcID, id)
		}
	}
}

func netDev(name, id, res string) resourcev1.Device {
	return resourcev1.Device{Name: name, Attributes: map[resourcev1.QualifiedName]resourcev1.DeviceAttribute{
		deviceid.AttrDeviceID:     {StringValue: &id},
		deviceid.AttrResourceName: {StringValue: &res},
	}}
}

func createNADs(t *testing.T, ns string) {
	t.Helper()
	c, err := nadclient.NewForConfig(suite.adminREST)
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range nads {
		nad := &nadv1.NetworkAttachmentDefinition{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: nadv1.NetworkAttachmentDefinitionSpec{Config: n.config}}
		if n.resource != "" {
			nad.Annotations = map[string]string{api.ResourceNameAnnotation: n.resource}
		}
		if _, err := c.K8sCniCncfIoV1().NetworkAttachmentDefinitions(ns).Create(context.Background(), nad, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// createDRAObjects creates a DeviceClass, the node's ResourceSlice (plus
// one of another node with the same device names, which must not be
// used), and claim "net" asking for len(alloc) devices; with alloc
// non-nil the test writes the allocation into the claim's status.
func createDRAObjects(t *testing.T, ns, node string, alloc []string) {
	t.Helper()
	ctx := context.Background()
	rv1 := suite.admin.ResourceV1()
	class := &resourcev1.DeviceClass{ObjectMeta: metav1.ObjectMeta{Name: ns},
		Spec: resourcev1.DeviceClassSpec{Selectors: []resourcev1.DeviceSelector{{CEL: &resourcev1.CELDeviceSelector{
			Expression: fmt.Sprintf("device.driver == %q", driver)}}}}}
	if _, err := rv1.DeviceClasses().Create(ctx, class, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{node, node + "-other"} {
		devs := slice
		if n != node {
			devs = []resourcev1.Device{netDev("vf1", "0000:99:00.1", resource), netDev("vf2", "0000:99:00.2", resource)}
		}
		s := &resourcev1.ResourceSlice{ObjectMeta: metav1.ObjectMeta{Name: n},
			Spec: resourcev1.ResourceSliceSpec{Driver: driver, NodeName: &n, Devices: devs,
				Pool: resourcev1.ResourcePool{Name: n, Generation: 1, ResourceSliceCount: 1}}}
		if _, err := rv1.ResourceSlices().Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	count := int64(max(len(alloc), 1))
	claim := &resourcev1.ResourceClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "net"},
		Spec: resourcev1.ResourceClaimSpec{Devices: resourcev1.DeviceClaim{Requests: []resourcev1.DeviceRequest{{
			Name: "vfs", Exactly: &resourcev1.ExactDeviceRequest{DeviceClassName: ns,
				AllocationMode: resourcev1.DeviceAllocationModeExactCount, Count: count}}}}}}
	claim, err := rv1.ResourceClaims(ns).Create(ctx, claim, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if alloc == nil {
		return
	}
	var results []resourcev1.DeviceRequestAllocationResult
	for _, a := range alloc {
		pool, dev, _ := strings.Cut(a, "/")
		if pool == "" {
			pool = node
		}
		results = append(results, resourcev1.DeviceRequestAllocationResult{Request: "vfs", Driver: driver, Pool: pool, Device: dev})
	}
	claim.Status.Allocation = &resourcev1.AllocationResult{Devices: resourcev1.DeviceAllocationResult{Results: results}}
	if _, err := rv1.ResourceClaims(ns).UpdateStatus(ctx, claim, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("write the allocation: %v", err)
	}
}

// createClaimPod creates a pod on node that references claim "net" and
// selects networks.
func createClaimPod(t *testing.T, ns, node, networks string) *corev1.Pod {
	t.Helper()
	claim := "net"
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "claims", Annotations: map[string]string{nadv1.NetworkAttachmentAnnot: networks}},
		Spec: corev1.PodSpec{NodeName: node,
			ResourceClaims: []corev1.PodResourceClaim{{Name: "vfs", ResourceClaimName: &claim}},
			Containers: []corev1.Container{{Name: "c", Image: "busybox",
				Resources: corev1.ResourceRequirements{Claims: []corev1.ResourceClaim{{Name: "vfs"}}}}}},
	}
	return createPod(t, p)
}

func createPlainPod(t *testing.T, ns, node, networks string) *corev1.Pod {
	t.Helper()
	return createPod(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "plain", Annotations: map[string]string{nadv1.NetworkAttachmentAnnot: networks}},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	})
}

func createPod(t *testing.T, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	out, err := suite.admin.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitEvent waits for a Warning event of reason on the pod containing msg.
func waitEvent(t *testing.T, ns, pod, reason, msg string) {
	t.Helper()
	var seen []string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := suite.admin.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		seen = seen[:0]
		for _, e := range list.Items {
			seen = append(seen, e.Reason+": "+e.Message)
			if e.InvolvedObject.Name == pod && e.Type == corev1.EventTypeWarning && e.Reason == reason && strings.Contains(e.Message, msg) {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Errorf("no %s event containing %q on pod %s/%s: %v; events: %q", reason, msg, ns, pod, err, seen)
	}
}

// recExec records every delegate call and answers ADD with one interface
// and one address, in the config's CNI version.
type recExec struct {
	mu    sync.Mutex
	calls []recCall
	version.PluginDecoder
}

type recCall struct {
	Command string
	Stdin   map[string]any
}

func (e *recExec) FindInPath(plugin string, paths []string) (string, error) {
	if len(paths) == 0 {
		return "", fmt.Errorf("no CNI path")
	}
	return filepath.Join(paths[0], plugin), nil
}

func (e *recExec) ExecPlugin(_ context.Context, _ string, stdin []byte, environ []string) ([]byte, error) {
	c := recCall{}
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "CNI_COMMAND="); ok {
			c.Command = v
		}
	}
	if err := json.Unmarshal(stdin, &c.Stdin); err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.calls = append(e.calls, c)
	e.mu.Unlock()
	if c.Command != "ADD" {
		return nil, nil
	}
	idx := 0
	res := &types100.Result{CNIVersion: "1.0.0",
		Interfaces: []*types100.Interface{{Name: "net", Mac: "0a:58:0a:00:00:02"}},
		IPs:        []*types100.IPConfig{{Interface: &idx, Address: net.IPNet{IP: net.IPv4(10, 9, 0, 2), Mask: net.CIDRMask(24, 32)}}}}
	return json.Marshal(res)
}

// all returns the ADD calls of the delegate whose CNI name is name (every
// plugin of a conflist carries the list's name).
func (e *recExec) all(name string) []recCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []recCall
	for _, c := range e.calls {
		if c.Command == "ADD" && c.Stdin["name"] == name {
			out = append(out, c)
		}
	}
	return out
}

func (e *recExec) find(t *testing.T, name string) recCall {
	t.Helper()
	calls := e.all(name)
	if len(calls) == 0 {
		t.Fatalf("delegate %s was not called; calls: %v", name, e.names())
	}
	return calls[0]
}

func (e *recExec) names() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, c := range e.calls {
		out = append(out, fmt.Sprintf("%s %v", c.Command, c.Stdin["name"]))
	}
	return out
}

// TestExtendedResourceClaim: a claim named by the pod's
// status.extendedResourceClaimStatus gives its devices to the mapped
// extended resource; a device of it without the CNI attributes fails the
// NAD that needs it, naming the claim and the device (stricter than for
// claims the pod names itself).
func TestExtendedResourceClaim(t *testing.T) {
	for _, tc := range []struct {
		name, alloc, wantID, wantErr string
	}{
		{name: "device with the attributes", alloc: "/vf2", wantID: "0000:03:00.2"},
		{name: "device without them", alloc: "/gpu0",
			wantErr: `resourceclaim NS/net: device net.example.com/NODE/gpu0 of extended resource "example.com/sriov" has no k8s.cni.cncf.io/deviceID attribute`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := freshNamespace(t)
			node := ns + "-node"
			createNADs(t, ns)
			createDRAObjects(t, ns, node, []string{tc.alloc})
			one := corev1.ResourceList{resource: apiresource.MustParse("1")}
			pod := createPod(t, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "extended", Annotations: map[string]string{nadv1.NetworkAttachmentAnnot: "sriov"}},
				Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox",
					Resources: corev1.ResourceRequirements{Requests: one, Limits: one}}}},
			})
			pod.Status.ExtendedResourceClaimStatus = &corev1.PodExtendedResourceClaimStatus{ResourceClaimName: "net",
				RequestMappings: []corev1.ContainerExtendedResourceRequest{{ContainerName: "c", ResourceName: resource, RequestName: "vfs"}}}
			pod, err := suite.admin.CoreV1().Pods(ns).UpdateStatus(context.Background(), pod, metav1.UpdateOptions{})
			if err != nil {
				t.Fatalf("write extendedResourceClaimStatus: %v", err)
			}
			r := newRig(t, node)
			_, err = r.add(pod)
			if tc.wantErr != "" {
				want := strings.ReplaceAll(strings.ReplaceAll(tc.wantErr, "NS/", ns+"/"), "NODE", node)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("ADD error %v does not contain %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r.checkDeviceID(t, "sriov", tc.wantID)
		})
	}
}
