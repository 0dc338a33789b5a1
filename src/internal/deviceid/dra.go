package deviceid

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/multus-thick/multus-thick/src/internal/kubeapi"
)

// The attributes a DRA driver publishes on a device that a CNI plugin may
// receive (§4.6): its ID (a PCI address for SR-IOV) and the resource name
// NADs refer to with k8s.v1.cni.cncf.io/resourceName.
const (
	AttrDeviceID     resourcev1.QualifiedName = "k8s.cni.cncf.io/deviceID"
	AttrResourceName resourcev1.QualifiedName = "k8s.cni.cncf.io/resourceName"
)

// hasClaims reports whether the pod can have DRA devices at all; without
// claims the lookup makes no API call.
func hasClaims(pod *corev1.Pod) bool {
	return len(pod.Spec.ResourceClaims) > 0 || len(pod.Status.ResourceClaimStatuses) > 0 ||
		pod.Status.ExtendedResourceClaimStatus != nil
}

// claimNames are the ResourceClaims of the pod: those the spec names
// directly and those generated from templates (named in the status).
func claimNames(pod *corev1.Pod) []string {
	var out []string
	for _, pc := range pod.Spec.ResourceClaims {
		if pc.ResourceClaimName != nil {
			out = append(out, *pc.ResourceClaimName)
		}
	}
	for _, st := range pod.Status.ResourceClaimStatuses {
		// Unset: the template needed no claim for this pod.
		if st.ResourceClaimName != nil {
			out = append(out, *st.ResourceClaimName)
		}
	}
	return out
}

// draLookup resolves one pod's claims: each claim is read once, and the
// ResourceSlices of the pod's node are listed once per driver.
type draLookup struct {
	client kubeapi.Resource
	log    *slog.Logger
	pod    *corev1.Pod
	out    map[string][]string
	slices map[string]sliceIndex // by driver
	seen   map[string]bool       // claim names done
	// problems are claims or devices that could not be resolved; they
	// matter only to a NAD whose resource runs short (resolve decides).
	problems []error
}

// sliceIndex holds one driver's devices on the node by "pool/device", or
// the error of listing them.
type sliceIndex struct {
	devices map[string]*resourcev1.Device
	err     error
}

// draDeviceIDs adds the pod's DRA devices to out and returns what could
// not be resolved.
func draDeviceIDs(ctx context.Context, client kubeapi.Resource, log *slog.Logger, pod *corev1.Pod, out map[string][]string) []error {
	l := &draLookup{client: client, log: log, pod: pod, out: out, slices: map[string]sliceIndex{}, seen: map[string]bool{}}
	// The extended-resource claim first: its stricter rules apply even if
	// the spec also names it.
	if ext := pod.Status.ExtendedResourceClaimStatus; ext != nil {
		strict := make(map[string]string, len(ext.RequestMappings))
		for _, m := range ext.RequestMappings {
			strict[m.RequestName] = m.ResourceName
		}
		l.claim(ctx, ext.ResourceClaimName, strict)
	}
	for _, name := range claimNames(pod) {
		l.claim(ctx, name, nil)
	}
	return l.problems
}

// claim adds the devices allocated to one claim. strict maps request
// names to the extended resource they serve: such a device must carry
// both attributes, with that resource name.
func (l *draLookup) claim(ctx context.Context, name string, strict map[string]string) {
	if l.seen[name] {
		return
	}
	l.seen[name] = true
	ref := l.pod.Namespace + "/" + name
	claim, err := l.client.ResourceClaims(l.pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		l.problems = append(l.problems, fmt.Errorf("resourceclaim %s: %w", ref, err))
		return
	}
	if claim.Status.Allocation == nil {
		l.problems = append(l.problems, fmt.Errorf("resourceclaim %s is not allocated", ref))
		return
	}
	for _, res := range claim.Status.Allocation.Devices.Results {
		dev, err := l.device(ctx, res)
		if err != nil {
			l.problems = append(l.problems, fmt.Errorf("resourceclaim %s: %w", ref, err))
			continue
		}
		id, resource := stringAttr(dev, AttrDeviceID), stringAttr(dev, AttrResourceName)
		devRef := res.Driver + "/" + res.Pool + "/" + res.Device
		// A prioritized-list result names "<request>/<subrequest>".
		want, isStrict := strict[strings.SplitN(res.Request, "/", 2)[0]]
		switch {
		case isStrict && id == "":
			l.problems = append(l.problems, fmt.Errorf("resourceclaim %s: device %s of extended resource %q has no %s attribute",
				ref, devRef, want, AttrDeviceID))
			continue
		case isStrict && resource != want:
			l.problems = append(l.problems, fmt.Errorf("resourceclaim %s: device %s of extended resource %q has %s %q",
				ref, devRef, want, AttrResourceName, resource))
			continue
		case id == "" || resource == "":
			// Most DRA devices (GPUs, ...) are not for CNI plugins.
			l.log.Warn("DRA device without the CNI attributes skipped", "claim", ref, "device", devRef,
				"deviceID", id, "resourceName", resource)
			continue
		}
		l.out[resource] = append(l.out[resource], id)
	}
}

// device finds an allocated device in its driver's ResourceSlices on the
// pod's node.
func (l *draLookup) device(ctx context.Context, res resourcev1.DeviceRequestAllocationResult) (*resourcev1.Device, error) {
	idx, ok := l.slices[res.Driver]
	if !ok {
		idx = l.listSlices(ctx, res.Driver)
		l.slices[res.Driver] = idx
	}
	if idx.err != nil {
		return nil, idx.err
	}
	dev := idx.devices[res.Pool+"/"+res.Device]
	if dev == nil {
		return nil, fmt.Errorf("allocated device %s/%s/%s is in no ResourceSlice of node %q",
			res.Driver, res.Pool, res.Device, l.pod.Spec.NodeName)
	}
	return dev, nil
}

// listSlices indexes the devices of one driver on the pod's node. A pool
// being republished can have slices of two generations: only the newest
// counts, as for the scheduler.
func (l *draLookup) listSlices(ctx context.Context, driver string) sliceIndex {
	node := l.pod.Spec.NodeName
	if node == "" {
		return sliceIndex{err: fmt.Errorf("pod %s/%s is not bound to a node", l.pod.Namespace, l.pod.Name)}
	}
	sel := fields.Set{resourcev1.ResourceSliceSelectorNodeName: node, resourcev1.ResourceSliceSelectorDriver: driver}
	list, err := l.client.ResourceSlices().List(ctx, metav1.ListOptions{FieldSelector: sel.String()})
	if err != nil {
		return sliceIndex{err: fmt.Errorf("list resourceslices of driver %s on node %s: %w", driver, node, err)}
	}
	var slices []*resourcev1.ResourceSlice
	newest := map[string]int64{}
	for i := range list.Items {
		s := &list.Items[i]
		// The selector is the server's filter; checking again keeps a
		// server (or fake) that ignores it from mixing in other nodes.
		if s.Spec.Driver != driver || s.Spec.NodeName == nil || *s.Spec.NodeName != node {
			continue
		}
		slices = append(slices, s)
		newest[s.Spec.Pool.Name] = max(newest[s.Spec.Pool.Name], s.Spec.Pool.Generation)
	}
	idx := sliceIndex{devices: map[string]*resourcev1.Device{}}
	for _, s := range slices {
		if s.Spec.Pool.Generation != newest[s.Spec.Pool.Name] {
			continue
		}
		for i := range s.Spec.Devices {
			idx.devices[s.Spec.Pool.Name+"/"+s.Spec.Devices[i].Name] = &s.Spec.Devices[i]
		}
	}
	return idx
}

// stringAttr is a string attribute of the device, "" if absent or not a
// string.
func stringAttr(dev *resourcev1.Device, name resourcev1.QualifiedName) string {
	if a, ok := dev.Attributes[name]; ok && a.StringValue != nil {
		return *a.StringValue
	}
	return ""
}
