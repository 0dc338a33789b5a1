package resolve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
	"github.com/multus-thick/multus-thick/src/internal/netselect"
)

// ErrNADNotFound is wrapped by NADGetter when the NAD does not exist.
var ErrNADNotFound = errors.New("network-attachment-definition not found")

// ErrNoNADSource means a NAD was needed but the resolver runs files-only.
var ErrNoNADSource = errors.New("no Kubernetes API: network-attachment-definitions cannot be looked up")

// ErrForbidden means namespaceIsolation denied a cross-namespace NAD.
var ErrForbidden = errors.New("namespace isolation enabled, annotation violates permission")

// NADGetter looks up a NetworkAttachmentDefinition.
type NADGetter interface {
	// GetNAD returns the NAD, or an error wrapping ErrNADNotFound.
	GetNAD(ctx context.Context, namespace, name string) (*nadv1.NetworkAttachmentDefinition, error)
}

// NADProber is optionally implemented by a NADGetter whose GetNAD waits
// for late NADs. The cluster and default networks are first tried as a NAD
// and then as a CNI config name; that probe must not wait, or every ADD of
// a file-configured cluster would pay the NAD retry timeout.
type NADProber interface {
	ProbeNAD(ctx context.Context, namespace, name string) (*nadv1.NetworkAttachmentDefinition, error)
}

// DeviceIDSource returns the devices allocated to a pod's containers, by
// resource name, each list sorted (§4.6). It may return a usable map
// together with an error wrapping ErrDevicesIncomplete: that error fails
// only a NAD whose resource has no device left.
type DeviceIDSource interface {
	DeviceIDs(ctx context.Context, pod *corev1.Pod) (map[string][]string, error)
}

// ErrDevicesIncomplete: some allocated devices could not be resolved.
var ErrDevicesIncomplete = errors.New("some allocated devices could not be resolved")

// Warner is optionally implemented by Options.Events: the kube recorder
// does, so lookups and bad input leave a Warning event on the pod.
type Warner interface {
	Warning(pod *corev1.Pod, reason, message string)
}

// Event reasons of the warnings resolve records.
const (
	ReasonNoNetworkFound   = "NoNetworkFound"
	ReasonInvalidNetwork   = "InvalidNetworkSelection"
	ReasonNetworkForbidden = "NetworkForbidden"
	ReasonNoDevice         = "NoDeviceForNetwork"
)

// Options are the Resolver's dependencies.
type Options struct {
	// NADs is nil on a node without an API server: files only.
	NADs   NADGetter
	Events attach.Events
	// DeviceIDs is optional; without it NADs with a resourceName get no
	// device ID.
	DeviceIDs DeviceIDSource
	Logger    *slog.Logger
	// Limits bound one pod's annotations and one NAD (zero: defaults).
	Limits Limits
	// SelfTypes are more plugin types that are this meta-plugin (the
	// daemon-config "type", when the shim is installed under another name).
	SelfTypes []string
	// Plugins, when set, lets the self-call check compare files, so that
	// a type that is a link to the shim is refused too.
	Plugins PluginLocator
}

// Resolver implements attach.Resolver.
type Resolver struct {
	nads      NADGetter
	warner    Warner
	devices   DeviceIDSource
	log       *slog.Logger
	limits    Limits
	selfTypes []string
	plugins   PluginLocator
}

var _ attach.Resolver = (*Resolver)(nil)

// New returns a Resolver.
func New(opts Options) *Resolver {
	r := &Resolver{
		nads: opts.NADs, devices: opts.DeviceIDs, log: opts.Logger,
		limits: opts.Limits.withDefaults(), selfTypes: opts.SelfTypes, plugins: opts.Plugins,
	}
	if w, ok := opts.Events.(Warner); ok {
		r.warner = w
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

// request is the state of one Delegates call: the device IDs are fetched
// once, lazily, and handed out in order (§4.6).
type request struct {
	conf    *netconf.NetConf
	pod     *corev1.Pod
	devices map[string][]string
	next    map[string]int
	fetched bool
	devErr  error // wraps ErrDevicesIncomplete: reported when a resource runs short
}

// Delegates implements attach.Resolver.
func (r *Resolver) Delegates(ctx context.Context, conf *netconf.NetConf, pod *corev1.Pod) ([]*netconf.Delegate, error) {
	req := &request{conf: conf, pod: pod}
	out, err := r.defaults(ctx, req)
	if err != nil {
		return nil, err
	}
	if pod != nil {
		if out, err = r.podNetworks(ctx, req, out); err != nil {
			return nil, err
		}
	}
	if conf.AuxiliaryCNIChainName != "" {
		aux, err := auxiliaryChain(conf)
		if err != nil {
			return nil, err
		}
		if aux != nil {
			out = append(out, aux)
		}
	}
	// Whether the list can be attached (interface names, default routes)
	// is ADD's to judge (attach), for every resolver alike.
	return out, nil
}

// ClusterNetwork implements attach.Resolver.
func (r *Resolver) ClusterNetwork(ctx context.Context, conf *netconf.NetConf) (*netconf.Delegate, error) {
	if conf.ClusterNetwork == "" {
		if len(conf.Delegates) == 0 {
			return nil, netconf.ErrNoNetworks
		}
		return conf.Delegates[0], nil
	}
	d, err := r.network(ctx, &request{conf: conf}, conf.ClusterNetwork)
	if err != nil {
		return nil, fmt.Errorf("clusterNetwork %q: %w", conf.ClusterNetwork, err)
	}
	d.MasterPlugin = true
	return d, nil
}

// defaults returns the cluster network (or the inline delegates) and the
// defaultNetworks (§4.4).
func (r *Resolver) defaults(ctx context.Context, req *request) ([]*netconf.Delegate, error) {
	conf := req.conf
	if conf.ClusterNetwork == "" {
		if len(conf.Delegates) == 0 {
			return nil, netconf.ErrNoNetworks
		}
		out := append([]*netconf.Delegate(nil), conf.Delegates...)
		for _, d := range out {
			if err := r.checkSelfCall(conf, d); err != nil {
				return nil, fmt.Errorf("delegate %q: %w", d.Name, err)
			}
		}
		out[0].MasterPlugin = true
		return out, nil
	}
	cluster, err := r.network(ctx, req, conf.ClusterNetwork)
	if err != nil {
		return nil, fmt.Errorf("failed to get clusterNetwork %q: %w", conf.ClusterNetwork, err)
	}
	cluster.MasterPlugin = true
	out := []*netconf.Delegate{cluster}
	// Fix: upstream compares the pod NAME with systemNamespaces.
	if req.pod != nil && conf.IsSystemNamespace(req.pod.Namespace) {
		return out, nil
	}
	for _, name := range conf.DefaultNetworks {
		d, err := r.network(ctx, req, name)
		if err != nil {
			return nil, fmt.Errorf("failed to get defaultNetworks %q: %w", name, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// podNetworks applies the default-network annotation and appends the
// networks annotation.
func (r *Resolver) podNetworks(ctx context.Context, req *request, out []*netconf.Delegate) ([]*netconf.Delegate, error) {
	pod, conf := req.pod, req.conf
	if value, ok := pod.Annotations[api.DefaultNetworkAnnotation]; ok {
		sel, err := netselect.ParseDefault(value, conf.MultusNamespace)
		if err != nil {
			return nil, r.invalid(pod, fmt.Errorf("annotation %s: %w", api.DefaultNetworkAnnotation, err))
		}
		d, err := r.fromNAD(ctx, req, sel, api.DefaultNetworkAnnotation)
		if err != nil {
			return nil, podError(pod, api.DefaultNetworkAnnotation, err)
		}
		d.MasterPlugin = true
		out[0] = d
	}
	value := pod.Annotations[api.NetworksAnnotation]
	sels, err := netselect.Parse(value, pod.Namespace)
	if err != nil {
		return nil, r.invalid(pod, fmt.Errorf("annotation %s: %w", api.NetworksAnnotation, err))
	}
	// Bounded before any NAD is looked up, so a pod with hundreds of
	// entries costs nothing but this error.
	if err := r.checkEntries(sels); err != nil {
		return nil, r.invalid(pod, fmt.Errorf("annotation %s: %w", api.NetworksAnnotation, err))
	}
	for i := range sels {
		d, err := r.fromNAD(ctx, req, &sels[i], api.NetworksAnnotation)
		if err != nil {
			return nil, podError(pod, api.NetworksAnnotation, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// podError names the pod and the annotation an error came from.
func podError(pod *corev1.Pod, annotation string, err error) error {
	return fmt.Errorf("pod %s/%s: annotation %s: %w", pod.Namespace, pod.Name, annotation, err)
}

// invalid names the pod in a bad-input error and records it as an event.
func (r *Resolver) invalid(pod *corev1.Pod, err error) error {
	if pod == nil {
		return err
	}
	r.warn(pod, ReasonInvalidNetwork, err.Error())
	return fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
}

func (r *Resolver) warn(pod *corev1.Pod, reason, msg string) {
	if r.warner != nil && pod != nil {
		r.warner.Warning(pod, reason, msg)
	}
}
