package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	nadclient "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/client/clientset/versioned/typed/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/kube/recorder"
	"github.com/multus-thick/multus-thick/src/internal/kubeapi"
	"github.com/multus-thick/multus-thick/src/internal/resolve"
)

// Defaults applied to zero Config fields.
const (
	DefaultQPS              = 50
	DefaultBurst            = 50
	DefaultPodLookupTimeout = 2500 * time.Millisecond
	DefaultAPITimeout       = 10 * time.Second
	DefaultNADRetryTimeout  = 5 * time.Second
	// EventComponent is the event source, as upstream.
	EventComponent = "multus"
)

// Config configures the client. Zero fields take the defaults above.
type Config struct {
	// Kubeconfig is a kubeconfig path; empty means in-cluster config
	// (service-account token, which client-go re-reads as it rotates).
	Kubeconfig string
	// REST, when set, is used instead of Kubeconfig and the in-cluster
	// config (perNodeCertificate: the node's own client certificate).
	REST *rest.Config
	// NodeName limits the pod informer to this node's pods; empty
	// watches every pod in the cluster (upstream's behaviour without
	// MULTUS_NODE_NAME; costly on big clusters).
	NodeName string
	QPS      float32
	Burst    int
	// PodLookupTimeout is how long ADD waits for a pod to appear in the
	// cache before the live GET.
	PodLookupTimeout time.Duration
	// APITimeout bounds each live API call.
	APITimeout time.Duration
	// NADRetryTimeout is how long a missing NAD is retried before the
	// ADD fails (a NAD applied together with its pod may lag).
	NADRetryTimeout time.Duration
	// SyncTimeout bounds Start's wait for the caches; 0 means until ctx
	// ends.
	SyncTimeout time.Duration
	// MaxNADConfigBytes: a cached NAD whose spec.config is larger keeps
	// only its size (resolution refuses it); 0 means
	// resolve.DefaultMaxNADConfigBytes.
	MaxNADConfigBytes int
	// Requests, when set, counts every request sent to the API server.
	Requests RequestObserver
	// Events is how successful ADDs are reported; empty means
	// EventsPerInterface.
	Events EventsMode
}

func (c *Config) applyDefaults() {
	if c.QPS == 0 {
		c.QPS = DefaultQPS
	}
	if c.Burst == 0 {
		c.Burst = DefaultBurst
	}
	if c.PodLookupTimeout == 0 {
		c.PodLookupTimeout = DefaultPodLookupTimeout
	}
	if c.APITimeout == 0 {
		c.APITimeout = DefaultAPITimeout
	}
	if c.NADRetryTimeout == 0 {
		c.NADRetryTimeout = DefaultNADRetryTimeout
	}
	if c.MaxNADConfigBytes <= 0 {
		c.MaxNADConfigBytes = resolve.DefaultMaxNADConfigBytes
	}
}

// Client holds the API clients, the informers and the event recorder.
// Only the API groups the daemon uses are linked in (core/v1, the NAD
// group, resource.k8s.io/v1 for DRA; see package kubeapi): no clientset,
// no generated informer factories, listers or apply configurations.
type Client struct {
	cfg      Config
	log      *slog.Logger
	core     kubeapi.Core
	nads     nadclient.K8sCniCncfIoV1Interface
	resource kubeapi.Resource

	podInformer cache.SharedIndexInformer
	nadInformer cache.SharedIndexInformer

	recorder *recorder.Recorder

	// patchForbidden: the role grants no patch on pods/status (SetNetworkStatus).
	patchForbidden atomic.Bool
}

// New builds the client from cfg: in-cluster config unless cfg.Kubeconfig
// is set, protobuf for core types, cfg.QPS/Burst.
func New(cfg Config, log *slog.Logger) (*Client, error) {
	cfg.applyDefaults()
	if !cfg.Events.valid() {
		return nil, fmt.Errorf("kubernetes client: unknown events mode %q", cfg.Events)
	}
	restCfg, err := restConfig(cfg)
	if err != nil {
		return nil, err
	}
	restCfg.QPS, restCfg.Burst = cfg.QPS, cfg.Burst
	restCfg.UserAgent = "multus-thick-daemon"
	if cfg.Requests != nil {
		restCfg.Wrap(countRequests(cfg.Requests))
	}
	// The NAD client talks to a CRD, which only speaks JSON.
	nadCfg := rest.CopyConfig(restCfg)
	restCfg.ContentType = runtime.ContentTypeProtobuf
	restCfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	// One HTTP client for the built-in groups: one connection pool, as a
	// clientset shares.
	httpClient, err := rest.HTTPClientFor(restCfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	core, err := kubeapi.NewCore(restCfg, httpClient, cfg.APITimeout)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	res, err := kubeapi.NewResource(restCfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	nads, err := nadclient.NewForConfig(nadCfg)
	if err != nil {
		return nil, fmt.Errorf("network-attachment-definition client: %w", err)
	}
	c := newClient(cfg, log, core, nads)
	c.resource = res
	return c, nil
}

func restConfig(c Config) (*rest.Config, error) {
	if c.REST != nil {
		return rest.CopyConfig(c.REST), nil
	}
	kubeconfig := c.Kubeconfig
	if kubeconfig == "" {
		// rest.InClusterConfig points client-go at the token file, which
		// it re-reads, so bound service-account tokens keep working.
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster config (set a kubeconfig to run outside a pod): %w", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	return cfg, nil
}

// newClient wires informers and the recorder on given clients (client-go
// fakes in unit tests).
func newClient(cfg Config, log *slog.Logger, core kubeapi.Core, nads nadclient.K8sCniCncfIoV1Interface) *Client {
	cfg.applyDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{cfg: cfg, log: log, core: core, nads: nads}
	// No resync and no handlers: the informers are only caches.
	var podSelector string
	if cfg.NodeName != "" {
		podSelector = fields.OneTermEqualSelector("spec.nodeName", cfg.NodeName).String()
	}
	c.podInformer = newInformer(&corev1.Pod{}, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		o.FieldSelector = podSelector
		return core.Pods(metav1.NamespaceAll).List(ctx, o)
	}, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		o.FieldSelector = podSelector
		return core.Pods(metav1.NamespaceAll).Watch(ctx, o)
	})
	if err := c.podInformer.SetTransform(trimPod); err != nil {
		log.Warn("pod informer transform not set", "err", err)
	}
	c.nadInformer = newInformer(&nadv1.NetworkAttachmentDefinition{}, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return nads.NetworkAttachmentDefinitions(metav1.NamespaceAll).List(ctx, o)
	}, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return nads.NetworkAttachmentDefinitions(metav1.NamespaceAll).Watch(ctx, o)
	})
	if err := c.nadInformer.SetTransform(trimNAD(cfg.MaxNADConfigBytes)); err != nil {
		log.Warn("NAD informer transform not set", "err", err)
	}

	c.recorder = recorder.New(recorder.Options{Sink: core.EventSink(), Component: EventComponent, Logger: log})
	return c
}

// newInformer is a cache of one resource kind, keyed namespace/name.
func newInformer(obj runtime.Object,
	list func(context.Context, metav1.ListOptions) (runtime.Object, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error),
) cache.SharedIndexInformer {
	lw := &cache.ListWatch{ListWithContextFunc: list, WatchFuncWithContext: watchFn}
	return cache.NewSharedIndexInformer(lw, obj, 0, cache.Indexers{})
}

// Start starts the informers and the event sink, which run until ctx
// ends, and waits for the caches to sync (bounded by ctx and
// Config.SyncTimeout). A sync failure is not fatal for lookups: they fall
// back to live GETs, and the informers keep retrying.
func (c *Client) Start(ctx context.Context) error {
	go c.recorder.Run(ctx)
	go c.podInformer.RunWithContext(ctx)
	go c.nadInformer.RunWithContext(ctx)
	wait := ctx
	if c.cfg.SyncTimeout > 0 {
		var cancel context.CancelFunc
		wait, cancel = context.WithTimeout(ctx, c.cfg.SyncTimeout)
		defer cancel()
	}
	if !cache.WaitForCacheSync(wait.Done(), c.podInformer.HasSynced, c.nadInformer.HasSynced) {
		return fmt.Errorf("informer caches not synced (pods %v, network-attachment-definitions %v): %w",
			c.podInformer.HasSynced(), c.nadInformer.HasSynced(), errors.Join(context.Cause(wait), wait.Err()))
	}
	c.log.Info("informer caches synced", "node", c.cfg.NodeName)
	return nil
}

// Pods returns the attach.PodSource.
func (c *Client) Pods() attach.PodSource { return podSource{c} }

// Status returns the attach.StatusWriter.
func (c *Client) Status() attach.StatusWriter { return statusWriter{c} }

// Events returns the attach.Events; it also implements resolve.Warner.
func (c *Client) Events() attach.Events { return events{rec: c.recorder, mode: c.cfg.Events} }

// Resource is the resource.k8s.io/v1 client (protobuf), for the DRA
// device-ID lookup; nil on fake clients.
func (c *Client) Resource() kubeapi.Resource { return c.resource }

// NADs returns the resolve.NADGetter; it also implements resolve.NADProber.
func (c *Client) NADs() resolve.NADGetter { return nadSource{c} }

// trimPod keeps only what the daemon reads, so a node's pod cache stays
// small: identity, annotations (without kubectl's last-applied copy),
// node, phase and resource claims (spec and status).
func trimPod(obj any) (any, error) {
	if pod, ok := obj.(*corev1.Pod); ok {
		return trimmed(pod), nil
	}
	return obj, nil
}

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

func trimmed(p *corev1.Pod) *corev1.Pod {
	var ann map[string]string
	if len(p.Annotations) > 0 {
		ann = make(map[string]string, len(p.Annotations))
		for k, v := range p.Annotations {
			if k != lastApplied {
				ann[k] = v
			}
		}
	}
	return &corev1.Pod{
		TypeMeta: p.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name:              p.Name,
			Namespace:         p.Namespace,
			UID:               p.UID,
			ResourceVersion:   p.ResourceVersion,
			CreationTimestamp: p.CreationTimestamp,
			DeletionTimestamp: p.DeletionTimestamp,
			Labels:            p.Labels,
			Annotations:       ann,
		},
		Spec: corev1.PodSpec{NodeName: p.Spec.NodeName, HostNetwork: p.Spec.HostNetwork, ResourceClaims: p.Spec.ResourceClaims},
		Status: corev1.PodStatus{
			Phase:                       p.Status.Phase,
			ResourceClaimStatuses:       p.Status.ResourceClaimStatuses,
			ExtendedResourceClaimStatus: p.Status.ExtendedResourceClaimStatus,
		},
	}
}

// trimNAD keeps only what resolution reads: identity, the resourceName
// annotation and spec.config, which is replaced by its size when over
// maxConfig. The cache then costs a few hundred bytes per NAD whatever
// tenants put into them, instead of every NAD of the cluster whole
// (managed fields, kubectl's last-applied copy, megabyte configs).
func trimNAD(maxConfig int) func(obj any) (any, error) {
	return func(obj any) (any, error) {
		nad, ok := obj.(*nadv1.NetworkAttachmentDefinition)
		if !ok {
			return obj, nil
		}
		out := &nadv1.NetworkAttachmentDefinition{
			TypeMeta: nad.TypeMeta,
			ObjectMeta: metav1.ObjectMeta{
				Name: nad.Name, Namespace: nad.Namespace, UID: nad.UID,
				ResourceVersion: nad.ResourceVersion, DeletionTimestamp: nad.DeletionTimestamp,
			},
			Spec: nadv1.NetworkAttachmentDefinitionSpec{Config: nad.Spec.Config},
		}
		if res, ok := nad.Annotations[api.ResourceNameAnnotation]; ok {
			out.Annotations = map[string]string{api.ResourceNameAnnotation: res}
		}
		if len(nad.Spec.Config) > maxConfig {
			if out.Annotations == nil {
				out.Annotations = map[string]string{}
			}
			out.Annotations[resolve.OversizedAnnotation] = strconv.Itoa(len(nad.Spec.Config))
			out.Spec.Config = ""
		}
		return out, nil
	}
}

// CachedPods is the number of pods in the informer cache; with NodeName
// set it counts this node's pods only (the integration tier checks that
// foreign pods stay out).
func (c *Client) CachedPods() int { return len(c.podInformer.GetStore().ListKeys()) }

// cached returns the object the informer holds under namespace/name.
func cached[T any](inf cache.SharedIndexInformer, namespace, name string) (T, bool) {
	var zero T
	obj, ok, err := inf.GetStore().GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return zero, false
	}
	out, ok := obj.(T)
	return out, ok
}
