//go:build e2e

package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/multus-thick/multus-thick/scenarios/internal/e2eutil"
)

// The lab's DRA test driver (deployments/dra/, src/internal/fakedra): its
// name, its DeviceClass and the resource name its devices carry.
const (
	draDriver   = "fakenic.multus-thick.io"
	draClass    = "fakenic.multus-thick.io"
	draResource = "multus-thick.io/fakenic"
	// Where device plugins and DRA drivers leave device-info (§4.12).
	devInfoDir = "/var/run/k8s.cni.cncf.io/devinfo"
	// draSliceWait bounds the wait for the driver's ResourceSlice: it is
	// published a few seconds after the driver starts.
	draSliceWait = time.Minute
)

var draNet = netip.MustParsePrefix("10.76.0.0/24")

// A pod with a ResourceClaim from a template for one fake NIC and a NAD
// whose resourceName is the driver's: the scheduler allocates a device of
// the pod's node, the kubelet has the driver prepare it (which writes its
// device-info file), and the daemon finds the device through the claim and
// the node's ResourceSlice. The pod runs with net1; the delegates received
// the allocated device's ID as deviceID, pciBusID and the deviceID
// capability, with a CNIDeviceInfoFile; network-status carries the
// device-info. Deleting the pod removes both device-info files.
func TestDRADeviceID(t *testing.T) {
	const nad = "dra-fakenic"
	var (
		pod        *corev1.Pod
		deviceID   string
		dpFile     string
		cniDevInfo string
	)
	node := func() string { return workers[0] }
	f := features.New("dra-device-id").
		WithLabel("area", "dra").
		WithLabel("profile", "upstream").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			waitDRASlice(ctx, t, node())
			ns := namespace(ctx)
			tmpl := &resourcev1.ResourceClaimTemplate{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fakenic"},
				Spec: resourcev1.ResourceClaimTemplateSpec{Spec: resourcev1.ResourceClaimSpec{
					Devices: resourcev1.DeviceClaim{Requests: []resourcev1.DeviceRequest{{
						Name:    "nic",
						Exactly: &resourcev1.ExactDeviceRequest{DeviceClassName: draClass},
					}}},
				}},
			}
			if _, err := lab.Kube.ResourceV1().ResourceClaimTemplates(ns).Create(ctx, tmpl, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create ResourceClaimTemplate %s/%s: %v", ns, tmpl.Name, err)
			}
			createNAD(ctx, t, "nad/"+nad+".yaml")
			p, err := newPod(ctx, "dra", node(), nad)
			if err != nil {
				t.Fatal(err)
			}
			p.Spec.ResourceClaims = []corev1.PodResourceClaim{{Name: "nic", ResourceClaimTemplateName: &tmpl.Name}}
			p.Spec.Containers[0].Resources.Claims = []corev1.ResourceClaim{{Name: "nic"}}
			if err := lab.Res.Create(ctx, p); err != nil {
				t.Fatalf("create pod %s/%s: %v", p.Namespace, p.Name, err)
			}
			pod = p
			return ctx
		}).
		Assess("the pod runs with net1 on the device allocated to its claim", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			pod = readyPod(ctx, t, pod)
			deviceID = allocatedDeviceID(ctx, t, pod)
			dpFile = fmt.Sprintf("%s/dp/%s-%s-device.json", devInfoDir, strings.ReplaceAll(draResource, "/", "-"), deviceID)
			got := checkAttachments(ctx, t, pod, []e2eutil.Want{
				clusterWant(nodeFlannel(ctx, t, node())),
				{Interface: "net1", Network: namespace(ctx) + "/" + nad, InPrefix: []netip.Prefix{draNet}},
			})
			for _, st := range got.Status {
				if st.Interface != "net1" {
					continue
				}
				checkDeviceInfo(t, st, deviceID)
			}
			return ctx
		}).
		Assess("the delegates received the device as deviceID, pciBusID and the deviceID capability", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			needDevice(t, deviceID)
			conf := delegateAddConfig(ctx, t, node(), pod)
			if conf.DeviceID != deviceID || conf.PCIBusID != deviceID {
				t.Errorf("cni-fault's config has deviceID %q, pciBusID %q; want the allocated device %s in both", conf.DeviceID, conf.PCIBusID, deviceID)
			}
			if conf.RuntimeConfig.DeviceID != deviceID {
				t.Errorf("runtimeConfig.deviceID = %q, want %s", conf.RuntimeConfig.DeviceID, deviceID)
			}
			cniDevInfo = conf.RuntimeConfig.CNIDeviceInfoFile
			if !strings.HasPrefix(cniDevInfo, devInfoDir+"/cni/") {
				t.Errorf("runtimeConfig.CNIDeviceInfoFile = %q, want a file under %s/cni", cniDevInfo, devInfoDir)
			}
			// The driver's file is what the daemon copied for the delegate.
			for _, f := range []string{dpFile, cniDevInfo} {
				out, err := lab.Nodes.Sh(ctx, node(), "cat "+f)
				if err != nil {
					t.Errorf("node %s: device-info %s: %v", node(), f, err)
					continue
				}
				var info nadv1.DeviceInfo
				if err := json.Unmarshal([]byte(out), &info); err != nil || info.Pci == nil || info.Pci.PciAddress != deviceID {
					t.Errorf("node %s: %s = %q (%v), want the pci device-info of %s", node(), f, out, err, deviceID)
				}
			}
			return ctx
		}).
		Assess("deleting the pod removes both device-info files", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			needDevice(t, deviceID)
			deletePod(ctx, t, pod)
			files := []string{dpFile}
			if cniDevInfo != "" {
				files = append(files, cniDevInfo)
			}
			err := e2eutil.Until(ctx, nodeStateWait, func(ctx context.Context) (string, error) {
				// The kubelet unprepares the claim once the pod is gone.
				out, err := lab.Nodes.Sh(ctx, node(), "ls "+strings.Join(files, " ")+" 2>/dev/null || true")
				if err != nil {
					return "", err
				}
				if s := strings.TrimSpace(out); s != "" {
					return "still on the node: " + s, nil
				}
				return "", nil
			})
			if err != nil {
				t.Fatalf("node %s: %v", node(), err)
			}
			return ctx
		}).
		Feature()
	testenv.Test(t, f)
}

// needDevice stops a step that depends on the allocated device when the
// step that found it failed.
func needDevice(t *testing.T, id string) {
	t.Helper()
	if id == "" {
		t.Fatal("no allocated device: the pod step failed")
	}
}

// waitDRASlice waits for the test driver's ResourceSlice on node; without
// it no claim of its class can be allocated there.
func waitDRASlice(ctx context.Context, t *testing.T, node string) {
	t.Helper()
	err := e2eutil.Until(ctx, draSliceWait, func(ctx context.Context) (string, error) {
		if _, err := draDevices(ctx, node); err != nil {
			return err.Error(), nil
		}
		return "", nil
	})
	if err != nil {
		t.Fatalf("the DRA test driver %s publishes no devices on %s (is deployments/%s/ applied? make lab-deploy does): %v",
			draDriver, node, "dra", err)
	}
}

// draDevices returns the test driver's devices on node by name.
func draDevices(ctx context.Context, node string) (map[string]resourcev1.Device, error) {
	sel := resourcev1.ResourceSliceSelectorNodeName + "=" + node + "," + resourcev1.ResourceSliceSelectorDriver + "=" + draDriver
	list, err := lab.Kube.ResourceV1().ResourceSlices().List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list ResourceSlices: %w", err)
	}
	devs := map[string]resourcev1.Device{}
	for _, s := range list.Items {
		for _, d := range s.Spec.Devices {
			devs[d.Name] = d
		}
	}
	if len(devs) == 0 {
		return nil, fmt.Errorf("no ResourceSlice of %s on %s", draDriver, node)
	}
	return devs, nil
}

// allocatedDeviceID reads the pod's claim (generated from the template),
// checks it holds one device of the test driver on the pod's node, and
// returns that device's k8s.cni.cncf.io/deviceID from the node's slice.
func allocatedDeviceID(ctx context.Context, t *testing.T, pod *corev1.Pod) string {
	t.Helper()
	if len(pod.Status.ResourceClaimStatuses) != 1 || pod.Status.ResourceClaimStatuses[0].ResourceClaimName == nil {
		t.Fatalf("pod %s: resourceClaimStatuses = %+v, want the one generated claim", pod.Name, pod.Status.ResourceClaimStatuses)
	}
	name := *pod.Status.ResourceClaimStatuses[0].ResourceClaimName
	claim, err := lab.Kube.ResourceV1().ResourceClaims(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get ResourceClaim %s/%s: %v", pod.Namespace, name, err)
	}
	if claim.Status.Allocation == nil || len(claim.Status.Allocation.Devices.Results) != 1 {
		t.Fatalf("ResourceClaim %s/%s allocation = %+v, want one device", pod.Namespace, name, claim.Status.Allocation)
	}
	res := claim.Status.Allocation.Devices.Results[0]
	if res.Driver != draDriver || res.Pool != pod.Spec.NodeName {
		t.Fatalf("ResourceClaim %s/%s got %s/%s/%s, want a device of %s in pool %s", pod.Namespace, name,
			res.Driver, res.Pool, res.Device, draDriver, pod.Spec.NodeName)
	}
	devs, err := draDevices(ctx, pod.Spec.NodeName)
	if err != nil {
		t.Fatal(err)
	}
	dev, ok := devs[res.Device]
	if !ok {
		t.Fatalf("allocated device %s is in no ResourceSlice of %s", res.Device, pod.Spec.NodeName)
	}
	id := dev.Attributes["k8s.cni.cncf.io/deviceID"].StringValue
	rn := dev.Attributes["k8s.cni.cncf.io/resourceName"].StringValue
	if id == nil || *id == "" || rn == nil || *rn != draResource {
		t.Fatalf("device %s attributes = %+v, want deviceID and resourceName %s", res.Device, dev.Attributes, draResource)
	}
	t.Logf("claim %s: device %s/%s, deviceID %s", name, res.Pool, res.Device, *id)
	return *id
}

// checkDeviceInfo checks a network-status entry's device-info names the
// PCI device id, as the driver's device-info file says.
func checkDeviceInfo(t *testing.T, st nadv1.NetworkStatus, id string) {
	t.Helper()
	di := st.DeviceInfo
	if di == nil || di.Type != nadv1.DeviceInfoTypePCI || di.Pci == nil || di.Pci.PciAddress != id {
		t.Errorf("network-status of %s: device-info %+v, want type pci with pci-address %s", st.Interface, di, id)
	}
}

// delegateConf is what cni-fault recorded of its config: the device
// fields the daemon injects and the capability arguments libcni passed.
type delegateConf struct {
	DeviceID      string `json:"deviceID"`
	PCIBusID      string `json:"pciBusID"`
	RuntimeConfig struct {
		DeviceID          string `json:"deviceID"`
		CNIDeviceInfoFile string `json:"CNIDeviceInfoFile"`
	} `json:"runtimeConfig"`
}

// delegateAddConfig returns the config of cni-fault's newest ADD for pod.
func delegateAddConfig(ctx context.Context, t *testing.T, node string, pod *corev1.Pod) delegateConf {
	t.Helper()
	recs, err := faultRecords(ctx, node, pod)
	if err != nil {
		t.Fatal(err)
	}
	var last *faultRecord
	for i := range recs {
		if recs[i].Command == "ADD" {
			last = &recs[i]
		}
	}
	if last == nil {
		t.Fatalf("cni-fault on %s recorded no ADD for pod %s", node, pod.Name)
	}
	var conf delegateConf
	if err := json.Unmarshal(last.Config, &conf); err != nil {
		t.Fatalf("cni-fault's recorded config %s: %v", last.Config, err)
	}
	return conf
}
