// Package fakedra is mt-dra-plugin: a DRA kubelet plugin for tests and the
// lab. It publishes a few fake network devices for its node, each with the
// two attributes multus reads (k8s.cni.cncf.io/deviceID and
// k8s.cni.cncf.io/resourceName, multus-thick-behaviour.md §4.6), and
// prepares a claim by writing each allocated device's device-info file
// where a device plugin would (<devinfo>/dp/<resource>-<deviceID>-device.json,
// §4.12), so the daemon copies it to the delegate and reports it in
// network-status. Nothing on the node changes besides those files: the
// devices do not exist, which is what lets a scenario run DRA on kind.
//
// The kubelet protocol (registration, NodePrepareResources,
// NodeUnprepareResources) and the ResourceSlice publishing are
// k8s.io/dynamic-resource-allocation/kubeletplugin's; this package only
// decides what the devices are and what preparing one means.
package fakedra
