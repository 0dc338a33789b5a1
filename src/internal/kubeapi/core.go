package kubeapi

import (
	"context"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// PodInterface is the part of client-go's typed PodInterface the daemon
// calls, with the same signatures.
type PodInterface interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Pod, error)
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.PodList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (*corev1.Pod, error)
	UpdateStatus(ctx context.Context, pod *corev1.Pod, opts metav1.UpdateOptions) (*corev1.Pod, error)
}

// EventSink writes events into their own namespaces: client-go's
// record.EventSink, which its typed EventSinkImpl implements.
type EventSink interface {
	Create(event *corev1.Event) (*corev1.Event, error)
	Update(event *corev1.Event) (*corev1.Event, error)
	Patch(event *corev1.Event, data []byte) (*corev1.Event, error)
}

// Core is the daemon's core/v1 client: pods, and a sink for the event
// recorder.
type Core interface {
	Pods(namespace string) PodInterface
	EventSink() EventSink
}

// CoreClient implements Core over one RESTClient.
type CoreClient struct {
	rest *rest.RESTClient
	// eventTimeout bounds each event write (the sink has no context).
	eventTimeout time.Duration
}

var _ Core = (*CoreClient)(nil)

// NewCore returns a core/v1 client on httpClient (nil: one built from
// cfg). eventTimeout bounds each event write.
func NewCore(cfg *rest.Config, httpClient *http.Client, eventTimeout time.Duration) (*CoreClient, error) {
	rc, err := restClient(cfg, httpClient, "/api", corev1.SchemeGroupVersion)
	if err != nil {
		return nil, err
	}
	return &CoreClient{rest: rc, eventTimeout: eventTimeout}, nil
}

// RESTClient is the underlying client (its rate limiter, in tests).
func (c *CoreClient) RESTClient() *rest.RESTClient { return c.rest }

// Pods returns the pods of namespace ("" lists and watches all).
func (c *CoreClient) Pods(namespace string) PodInterface { return pods{rest: c.rest, ns: namespace} }

// EventSink returns the sink the recorder writes events through.
func (c *CoreClient) EventSink() EventSink {
	return eventSink{rest: c.rest, timeout: c.eventTimeout}
}

type pods struct {
	rest *rest.RESTClient
	ns   string
}

func (p pods) Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Pod, error) {
	out := &corev1.Pod{}
	err := p.rest.Get().Namespace(p.ns).Resource("pods").Name(name).
		VersionedParams(&opts, parameterCodec).Do(ctx).Into(out)
	return out, err
}

func (p pods) List(ctx context.Context, opts metav1.ListOptions) (*corev1.PodList, error) {
	out := &corev1.PodList{}
	err := p.rest.Get().Namespace(p.ns).Resource("pods").
		VersionedParams(&opts, parameterCodec).Timeout(watchTimeout(opts)).Do(ctx).Into(out)
	return out, err
}

func (p pods) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return p.rest.Get().Namespace(p.ns).Resource("pods").
		VersionedParams(&opts, parameterCodec).Timeout(watchTimeout(opts)).Watch(ctx)
}

func (p pods) Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (*corev1.Pod, error) {
	out := &corev1.Pod{}
	err := p.rest.Patch(pt).Namespace(p.ns).Resource("pods").Name(name).SubResource(subresources...).
		VersionedParams(&opts, parameterCodec).Body(data).Do(ctx).Into(out)
	return out, err
}

func (p pods) UpdateStatus(ctx context.Context, pod *corev1.Pod, opts metav1.UpdateOptions) (*corev1.Pod, error) {
	out := &corev1.Pod{}
	err := p.rest.Put().Namespace(p.ns).Resource("pods").Name(pod.Name).SubResource("status").
		VersionedParams(&opts, parameterCodec).Body(pod).Do(ctx).Into(out)
	return out, err
}

// eventSink writes the recorder's events into each event's own namespace.
// Its errors are returned unwrapped, as the generated client's: a recorder
// tells a rejected event (dropped) from a transport failure (retried) by
// the error's type.
type eventSink struct {
	rest    *rest.RESTClient
	timeout time.Duration
}

func (s eventSink) Create(e *corev1.Event) (*corev1.Event, error) {
	ctx, cancel := callContext(s.timeout)
	defer cancel()
	out := &corev1.Event{}
	err := s.rest.Post().NamespaceIfScoped(e.Namespace, e.Namespace != "").Resource("events").
		Body(e).Do(ctx).Into(out)
	return out, err
}

func (s eventSink) Update(e *corev1.Event) (*corev1.Event, error) {
	ctx, cancel := callContext(s.timeout)
	defer cancel()
	out := &corev1.Event{}
	err := s.rest.Put().NamespaceIfScoped(e.Namespace, e.Namespace != "").Resource("events").Name(e.Name).
		Body(e).Do(ctx).Into(out)
	return out, err
}

func (s eventSink) Patch(e *corev1.Event, data []byte) (*corev1.Event, error) {
	ctx, cancel := callContext(s.timeout)
	defer cancel()
	out := &corev1.Event{}
	err := s.rest.Patch(types.StrategicMergePatchType).NamespaceIfScoped(e.Namespace, e.Namespace != "").
		Resource("events").Name(e.Name).Body(data).Do(ctx).Into(out)
	return out, err
}
