package deviceid

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/multus-thick/multus-thick/src/internal/kubeapi"
	"github.com/multus-thick/multus-thick/src/internal/resolve"
)

// DefaultTimeout bounds one pod's whole lookup (upstream bounds its DRA
// part by 20 s).
const DefaultTimeout = 20 * time.Second

// Config configures a Source. Zero fields take the defaults.
type Config struct {
	// PodResourcesSocket is the kubelet pod-resources gRPC socket, used
	// when it exists.
	PodResourcesSocket string
	// CheckpointFile is the device manager checkpoint, read when the
	// socket does not exist.
	CheckpointFile string
	// Client reads ResourceClaims and ResourceSlices; nil: no DRA.
	Client kubeapi.Resource
	// Timeout bounds one pod's lookup, kubelet and API calls together.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Source implements resolve.DeviceIDSource from device plugins (kubelet)
// and DRA resource claims (API).
type Source struct {
	kubelet kubelet
	client  kubeapi.Resource
	timeout time.Duration
	log     *slog.Logger
}

var _ resolve.DeviceIDSource = (*Source)(nil)

// New returns a Source.
func New(cfg Config) *Source {
	s := &Source{
		kubelet: kubelet{socket: cfg.PodResourcesSocket, checkpoint: cfg.CheckpointFile},
		client:  cfg.Client, timeout: cfg.Timeout, log: cfg.Logger,
	}
	if s.kubelet.socket == "" {
		s.kubelet.socket = DefaultPodResourcesSocket
	}
	if s.kubelet.checkpoint == "" {
		s.kubelet.checkpoint = DefaultCheckpointFile
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// DeviceIDs returns the pod's devices by resource name, each list sorted.
// A failing kubelet is an error. Claims and devices that cannot be
// resolved (claim missing or not allocated, device in no ResourceSlice of
// the node, an extended-resource device without its attributes) come with
// the usable map as an error wrapping resolve.ErrDevicesIncomplete: they
// fail only a NAD whose resource then runs short.
func (s *Source) DeviceIDs(ctx context.Context, pod *corev1.Pod) (map[string][]string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	out, err := s.kubelet.deviceIDs(ctx, pod)
	if err != nil {
		return nil, err
	}
	var problems []error
	if s.client != nil && hasClaims(pod) {
		problems = draDeviceIDs(ctx, s.client, s.log, pod, out)
	}
	for _, ids := range out {
		sort.Strings(ids)
	}
	if len(problems) > 0 {
		return out, fmt.Errorf("%w: %w", resolve.ErrDevicesIncomplete, problemList(problems))
	}
	return out, nil
}

// problemList joins errors on one line (errors.Join uses newlines, which
// read badly in a CNI error and an event).
type problemList []error

func (p problemList) Error() string {
	msgs := make([]string, len(p))
	for i, err := range p {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (p problemList) Unwrap() []error { return p }
