package attach

import (
	"context"
	"fmt"

	types100 "github.com/containernetworking/cni/pkg/types/100"
	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"

	"github.com/multus-thick/multus-thick/src/api/netstatus"
)

// Everything ADD and the hot-plug commands do to the pod's
// k8s.v1.cni.cncf.io/network-status annotation: the entries are built
// here (from each result, by api/netstatus' rules) and written through the
// StatusWriter (kube/status.go talks to the API server and formats the
// value with api/netstatus).

// networkStatuses builds the entries of one attachment's result; master
// marks the cluster network's entry as the default one.
func networkStatuses(at *attachment, res *types100.Result, master bool) []nadv1.NetworkStatus {
	return netstatus.FromResult(res, at.d.Name, master, loadDeviceInfo(at.devInfo))
}

// writeStatus replaces the pod's network-status with this ADD's. It is
// written for every pod, system namespaces included (upstream's skip rule
// compares the pod name, so it never skips in practice either).
func (tx *addTx) writeStatus(ctx context.Context, statuses []nadv1.NetworkStatus) error {
	if tx.a.opts.Status == nil || tx.pod == nil || len(statuses) == 0 {
		return nil
	}
	// The UID of the pod GetPod matched (a static pod's mirror has its
	// own): the write is refused if the pod was recreated since.
	ref := tx.req.Pod
	ref.UID = string(tx.pod.UID)
	err := tx.a.opts.Status.SetNetworkStatus(ctx, ref, statuses)
	if err != nil {
		return fmt.Errorf("write network-status: %w", err)
	}
	return nil
}

// replaceInterfaceStatus is the hot-plug write: the pod's entries of
// ifname are replaced by entries (nil: removed); the others are kept.
func (a *Attacher) replaceInterfaceStatus(ctx context.Context, ref PodRef, ifname string, entries []nadv1.NetworkStatus) error {
	err := a.opts.Status.UpdateNetworkStatus(ctx, ref, func(cur []nadv1.NetworkStatus) []nadv1.NetworkStatus {
		return append(withoutInterface(cur, ifname), entries...)
	})
	if err != nil {
		return fmt.Errorf("write network-status: %w", err)
	}
	return nil
}

// withoutInterface drops the entries of ifname (the default network's
// entry is never dropped: a hot-plug call does not own it).
func withoutInterface(cur []nadv1.NetworkStatus, ifname string) []nadv1.NetworkStatus {
	out := make([]nadv1.NetworkStatus, 0, len(cur)+1)
	for _, s := range cur {
		if s.Interface == ifname && !s.Default {
			continue
		}
		out = append(out, s)
	}
	return out
}
