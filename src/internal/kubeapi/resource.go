package kubeapi

import (
	"context"
	"net/http"

	resourcev1 "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// ResourceClaimInterface and ResourceSliceInterface are the parts of
// client-go's typed resource.k8s.io/v1 clients the DRA device-ID lookup
// calls, with the same signatures.
type ResourceClaimInterface interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*resourcev1.ResourceClaim, error)
}

// ResourceSliceInterface: see ResourceClaimInterface.
type ResourceSliceInterface interface {
	List(ctx context.Context, opts metav1.ListOptions) (*resourcev1.ResourceSliceList, error)
}

// Resource is the daemon's resource.k8s.io/v1 client.
type Resource interface {
	ResourceClaims(namespace string) ResourceClaimInterface
	ResourceSlices() ResourceSliceInterface
}

// ResourceClient implements Resource over one RESTClient.
type ResourceClient struct{ rest *rest.RESTClient }

var _ Resource = (*ResourceClient)(nil)

// NewResource returns a resource.k8s.io/v1 client on httpClient (nil: one
// built from cfg).
func NewResource(cfg *rest.Config, httpClient *http.Client) (*ResourceClient, error) {
	rc, err := restClient(cfg, httpClient, "/apis", resourcev1.SchemeGroupVersion)
	if err != nil {
		return nil, err
	}
	return &ResourceClient{rest: rc}, nil
}

// ResourceClaims returns the claims of namespace.
func (c *ResourceClient) ResourceClaims(namespace string) ResourceClaimInterface {
	return claims{rest: c.rest, ns: namespace}
}

// ResourceSlices returns the (cluster-scoped) resource slices.
func (c *ResourceClient) ResourceSlices() ResourceSliceInterface { return slices{rest: c.rest} }

type claims struct {
	rest *rest.RESTClient
	ns   string
}

func (c claims) Get(ctx context.Context, name string, opts metav1.GetOptions) (*resourcev1.ResourceClaim, error) {
	out := &resourcev1.ResourceClaim{}
	err := c.rest.Get().Namespace(c.ns).Resource("resourceclaims").Name(name).
		VersionedParams(&opts, parameterCodec).Do(ctx).Into(out)
	return out, err
}

type slices struct{ rest *rest.RESTClient }

func (s slices) List(ctx context.Context, opts metav1.ListOptions) (*resourcev1.ResourceSliceList, error) {
	out := &resourcev1.ResourceSliceList{}
	err := s.rest.Get().Resource("resourceslices").
		VersionedParams(&opts, parameterCodec).Timeout(watchTimeout(opts)).Do(ctx).Into(out)
	return out, err
}
