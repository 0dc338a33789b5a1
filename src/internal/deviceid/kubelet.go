package deviceid

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	podresources "k8s.io/kubelet/pkg/apis/podresources/v1"
)

// Kubelet defaults (§4.6).
const (
	DefaultPodResourcesSocket = "/var/lib/kubelet/pod-resources/kubelet.sock"
	DefaultCheckpointFile     = "/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint"
	maxPodResourcesMsg        = 16 << 20
)

// kubelet reads device-plugin allocations: the pod-resources gRPC API when
// its socket exists, else the device manager's checkpoint file.
type kubelet struct {
	socket     string
	checkpoint string
}

// deviceIDs returns the pod's device-plugin devices by resource name,
// unsorted. With neither the socket nor the checkpoint the pod has none.
func (k kubelet) deviceIDs(ctx context.Context, pod *corev1.Pod) (map[string][]string, error) {
	if _, err := os.Stat(k.socket); err == nil {
		return k.fromPodResources(ctx, pod)
	}
	return k.fromCheckpoint(pod)
}

func (k kubelet) fromPodResources(ctx context.Context, pod *corev1.Pod) (map[string][]string, error) {
	conn, err := grpc.NewClient("unix://"+k.socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxPodResourcesMsg)))
	if err != nil {
		return nil, fmt.Errorf("pod-resources %s: %w", k.socket, err)
	}
	defer conn.Close()
	resp, err := podresources.NewPodResourcesListerClient(conn).List(ctx, &podresources.ListPodResourcesRequest{})
	if err != nil {
		return nil, fmt.Errorf("pod-resources %s: List: %w", k.socket, err)
	}
	out := map[string][]string{}
	for _, pr := range resp.GetPodResources() {
		if pr.GetName() != pod.Name || pr.GetNamespace() != pod.Namespace {
			continue
		}
		for _, c := range pr.GetContainers() {
			for _, dev := range c.GetDevices() {
				out[dev.GetResourceName()] = append(out[dev.GetResourceName()], dev.GetDeviceIds()...)
			}
		}
	}
	return out, nil
}

// checkpoint is the part of kubelet_internal_checkpoint we read.
// DeviceIDs is a list in old kubelets and a map NUMA node -> list since
// topology-aware allocation.
type checkpoint struct {
	Data struct {
		PodDeviceEntries []struct {
			PodUID       string          `json:"PodUID"`
			ResourceName string          `json:"ResourceName"`
			DeviceIDs    json.RawMessage `json:"DeviceIDs"`
		} `json:"PodDeviceEntries"`
	} `json:"Data"`
}

func (k kubelet) fromCheckpoint(pod *corev1.Pod) (map[string][]string, error) {
	data, err := os.ReadFile(k.checkpoint)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string][]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("device checkpoint: %w", err)
	}
	var cp checkpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		return nil, fmt.Errorf("device checkpoint %s: %w", k.checkpoint, err)
	}
	out := map[string][]string{}
	for _, e := range cp.Data.PodDeviceEntries {
		if e.PodUID != string(pod.UID) {
			continue
		}
		ids, err := checkpointIDs(e.DeviceIDs)
		if err != nil {
			return nil, fmt.Errorf("device checkpoint %s: resource %q: %w", k.checkpoint, e.ResourceName, err)
		}
		out[e.ResourceName] = append(out[e.ResourceName], ids...)
	}
	return out, nil
}

func checkpointIDs(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var byNUMA map[string][]string
	if err := json.Unmarshal(raw, &byNUMA); err != nil {
		return nil, fmt.Errorf("DeviceIDs is neither a list nor a NUMA map: %w", err)
	}
	var out []string
	for _, ids := range byNUMA {
		out = append(out, ids...)
	}
	return out, nil
}
