// Package kubeapifake adapts client-go's generated typed clients (in unit
// tests, the fake clientset's) to package kubeapi's interfaces. Only tests
// import it: it links the generated clients the daemon avoids.
package kubeapifake

import (
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	typedresourcev1 "k8s.io/client-go/kubernetes/typed/resource/v1"

	"github.com/multus-thick/multus-thick/src/internal/kubeapi"
)

// Core adapts a typed core/v1 client.
func Core(c typedcorev1.CoreV1Interface) kubeapi.Core { return core{c} }

type core struct{ c typedcorev1.CoreV1Interface }

func (c core) Pods(namespace string) kubeapi.PodInterface { return c.c.Pods(namespace) }

func (c core) EventSink() kubeapi.EventSink {
	return &typedcorev1.EventSinkImpl{Interface: c.c.Events("")}
}

// Resource adapts a typed resource.k8s.io/v1 client.
func Resource(c typedresourcev1.ResourceV1Interface) kubeapi.Resource { return resource{c} }

type resource struct {
	c typedresourcev1.ResourceV1Interface
}

func (r resource) ResourceClaims(namespace string) kubeapi.ResourceClaimInterface {
	return r.c.ResourceClaims(namespace)
}

func (r resource) ResourceSlices() kubeapi.ResourceSliceInterface { return r.c.ResourceSlices() }
