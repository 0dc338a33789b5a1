package api

// Kubernetes annotation keys the daemon reads and writes. They are plain
// strings, so the shim, the scenarios and the lab can share them without
// importing a Kubernetes library.
const (
	// NetworksAnnotation is the pod annotation that selects extra networks
	// (text or JSON form).
	NetworksAnnotation = "k8s.v1.cni.cncf.io/networks"
	// NetworkStatusAnnotation is the pod annotation the daemon writes after
	// an ADD: one entry per attached interface (see package netstatus).
	NetworkStatusAnnotation = "k8s.v1.cni.cncf.io/network-status"
	// DefaultNetworkAnnotation replaces the cluster network for one pod.
	DefaultNetworkAnnotation = "v1.multus-cni.io/default-network"
	// ResourceNameAnnotation on a NetworkAttachmentDefinition names the
	// device-plugin or DRA resource its delegate's device comes from.
	ResourceNameAnnotation = "k8s.v1.cni.cncf.io/resourceName"
)

// ResultVersion is the CNI version of every result on the wire: the daemon
// converts each ADD result to it and the shim converts it back to the
// runtime's cniVersion.
const ResultVersion = "1.0.0"
