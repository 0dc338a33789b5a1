package attach

import (
	"context"
	"errors"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// The Kubernetes side of the daemon (package kube) implements these
// interfaces; attach only consumes them, so ADD/DEL run in unit tests with
// fakes and on a node without any API server (delegates from files).

// PodRef identifies the pod of an invocation, from CNI_ARGS.
type PodRef struct {
	Namespace string
	Name      string
	// UID is K8S_POD_UID; empty when the runtime did not send it.
	UID string
	// SandboxID is K8S_POD_INFRA_CONTAINER_ID.
	SandboxID string
}

// Op says which command a pod lookup is for; ADD retries a pod that is not
// yet visible, DEL does not.
type Op int

const (
	OpAdd Op = iota
	OpDel
	OpCheck
)

// ErrPodNotFound is returned by PodSource when the pod does not exist, or
// (on DEL) exists with another UID, i.e. it was recreated.
var ErrPodNotFound = errors.New("pod not found")

// PodSource looks up the pod of an invocation.
type PodSource interface {
	// GetPod returns the pod, or an error wrapping ErrPodNotFound. On ADD a
	// UID mismatch with a non-static pod is an error that names both UIDs.
	GetPod(ctx context.Context, ref PodRef, op Op) (*corev1.Pod, error)
}

// Resolver turns the Multus config and the pod's annotations into the
// ordered delegate list.
type Resolver interface {
	// Delegates returns, in order: the cluster network (MasterPlugin, index
	// 0; replaced by the pod's default-network annotation if any), the
	// defaultNetworks (unless the pod's namespace is a system namespace),
	// the networks of the k8s.v1.cni.cncf.io/networks annotation, and the
	// auxiliary chain when configured. pod may be nil (DEL without a pod):
	// then only the cluster and default networks are returned. When conf
	// has no clusterNetwork, conf.Delegates (inline delegates) start the
	// list instead of the cluster network.
	Delegates(ctx context.Context, conf *netconf.NetConf, pod *corev1.Pod) ([]*netconf.Delegate, error)
	// ClusterNetwork returns only the cluster network delegate, for GC and
	// STATUS, which run without a pod.
	ClusterNetwork(ctx context.Context, conf *netconf.NetConf) (*netconf.Delegate, error)
}

// StatusWriter writes the k8s.v1.cni.cncf.io/network-status annotation.
type StatusWriter interface {
	// SetNetworkStatus replaces the pod's statuses (ADD) in one write
	// through the status subresource, without reading them first. ref.UID
	// is the UID of the pod object ADD got, which the write requires.
	SetNetworkStatus(ctx context.Context, ref PodRef, statuses []nadv1.NetworkStatus) error
	// UpdateNetworkStatus reads the pod's current statuses, applies mutate
	// and writes the result through the status subresource, retrying on
	// conflict: /delegate merges one interface in or out.
	UpdateNetworkStatus(ctx context.Context, ref PodRef, mutate func(current []nadv1.NetworkStatus) []nadv1.NetworkStatus) error
}

// Events records Kubernetes events on the pod.
type Events interface {
	// AddedInterface is the Normal event "AddedInterface":
	// "Add <ifname> [<ips>] from <network>".
	AddedInterface(pod *corev1.Pod, ifname string, ips []string, network string)
	// AddedInterfaces follows a successful ADD once, with every interface
	// AddedInterface reported, in order, for a one-event-per-pod
	// implementation; /delegate reports its one interface.
	AddedInterfaces(pod *corev1.Pod, added []AddedInterface)
	// AddFailed is a Warning naming the network, the delegate type and
	// the CNI error code.
	AddFailed(pod *corev1.Pod, network, delegateType string, code uint, err error)
}

// AddedInterface is one interface a delegate's ADD brought up.
type AddedInterface struct {
	IfName  string
	IPs     []string
	Network string
}
