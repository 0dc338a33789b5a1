package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	podresources "k8s.io/kubelet/pkg/apis/podresources/v1"

	"github.com/multus-thick/multus-thick/src/internal/resolve"
)

// Kubelet defaults (§4.6).
const (
	DefaultPodResourcesSocket = "/var/lib/kubelet/pod-resources/kubelet.sock"
	DefaultCheckpointFile     = "/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint"
	defaultDeviceTimeout      = 10 * time.Second
	maxPodResourcesMsg        = 16 << 20
)

// DeviceIDConfig configures the device-ID source. Zero fields take the
// kubelet defaults.
type DeviceIDConfig struct {
	// PodResourcesSocket is the kubelet pod-resources gRPC socket; when
	// it exists it is used.
	PodResourcesSocket string
	// CheckpointFile is the device manager checkpoint, read when the
	// socket does not exist.
	CheckpointFile string
	// Timeout bounds the gRPC call.
	Timeout time.Duration
}

// DeviceIDs implements resolve.DeviceIDSource from the kubelet. DRA
// resource claims are not supported.
type DeviceIDs struct{ cfg DeviceIDConfig }

var _ resolve.DeviceIDSource = (*DeviceIDs)(nil)

// NewDeviceIDs returns the kubelet device-ID source.
func NewDeviceIDs(cfg DeviceIDConfig) *DeviceIDs {
	if cfg.PodResourcesSocket == "" {
		cfg.PodResourcesSocket = DefaultPodResourcesSocket
	}
	if cfg.CheckpointFile == "" {
		cfg.CheckpointFile = DefaultCheckpointFile
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultDeviceTimeout
	}
	return &DeviceIDs{cfg: cfg}
}

// DeviceIDs returns the pod's device IDs by resource name, each list
// sorted, from the pod-resources API or else the checkpoint file. With
// neither present the pod has no devices.
func (d *DeviceIDs) DeviceIDs(ctx context.Context, pod *corev1.Pod) (map[string][]string, error) {
	var out map[string][]string
	var err error
	if _, statErr := os.Stat(d.cfg.PodResourcesSocket); statErr == nil {
		out, err = d.fromKubelet(ctx, pod)
	} else {
		out, err = d.fromCheckpoint(pod)
	}
	if err != nil {
		return nil, err
	}
	for _, ids := range out {
		sort.Strings(ids)
	}
	return out, nil
}

func (d *DeviceIDs) fromKubelet(ctx context.Context, pod *corev1.Pod) (map[string][]string, error) {
	conn, err := grpc.NewClient("unix://"+d.cfg.PodResourcesSocket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxPodResourcesMsg)))
	if err != nil {
		return nil, fmt.Errorf("pod-resources %s: %w", d.cfg.PodResourcesSocket, err)
	}
	defer conn.Close()
	callCtx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	resp, err := podresources.NewPodResourcesListerClient(conn).List(callCtx, &podresources.ListPodResourcesRequest{})
	if err != nil {
		return nil, fmt.Errorf("pod-resources %s: List: %w", d.cfg.PodResourcesSocket, err)
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

func (d *DeviceIDs) fromCheckpoint(pod *corev1.Pod) (map[string][]string, error) {
	data, err := os.ReadFile(d.cfg.CheckpointFile)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string][]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("device checkpoint: %w", err)
	}
	var cp checkpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		return nil, fmt.Errorf("device checkpoint %s: %w", d.cfg.CheckpointFile, err)
	}
	out := map[string][]string{}
	for _, e := range cp.Data.PodDeviceEntries {
		if e.PodUID != string(pod.UID) {
			continue
		}
		ids, err := checkpointIDs(e.DeviceIDs)
		if err != nil {
			return nil, fmt.Errorf("device checkpoint %s: resource %q: %w", d.cfg.CheckpointFile, e.ResourceName, err)
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
