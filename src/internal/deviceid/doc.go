// Package deviceid finds the devices allocated to a pod, by resource name,
// for NADs annotated with k8s.v1.cni.cncf.io/resourceName
// (multus-thick-behaviour.md §4.6): device plugins through the kubelet's
// pod-resources socket (or its checkpoint file), and DRA through the
// pod's ResourceClaims, their allocation results and the ResourceSlices
// of the pod's node, on resource.k8s.io/v1.
//
// One pod's lookup has one deadline; claims are read once and slices
// listed once per driver within it. A pod without claims costs no API
// call, and the resolver asks only when a NAD has a resourceName.
package deviceid
