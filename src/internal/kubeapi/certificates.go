package kubeapi

import (
	"context"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// CSRInterface is the part of client-go's typed
// CertificateSigningRequestInterface that perNodeCertificate calls, with
// the same signatures.
type CSRInterface interface {
	Create(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, opts metav1.CreateOptions) (*certificatesv1.CertificateSigningRequest, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*certificatesv1.CertificateSigningRequest, error)
}

// CSRs returns a certificates.k8s.io/v1 client for signing requests, on its
// own connection (it runs as the bootstrap identity, not the node's).
func CSRs(cfg *rest.Config) (CSRInterface, error) {
	rc, err := restClient(cfg, nil, "/apis", certificatesv1.SchemeGroupVersion)
	if err != nil {
		return nil, err
	}
	return csrs{rest: rc}, nil
}

type csrs struct{ rest *rest.RESTClient }

func (c csrs) Create(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, opts metav1.CreateOptions) (*certificatesv1.CertificateSigningRequest, error) {
	out := &certificatesv1.CertificateSigningRequest{}
	err := c.rest.Post().Resource("certificatesigningrequests").
		VersionedParams(&opts, parameterCodec).Body(csr).Do(ctx).Into(out)
	return out, err
}

func (c csrs) Get(ctx context.Context, name string, opts metav1.GetOptions) (*certificatesv1.CertificateSigningRequest, error) {
	out := &certificatesv1.CertificateSigningRequest{}
	err := c.rest.Get().Resource("certificatesigningrequests").Name(name).
		VersionedParams(&opts, parameterCodec).Do(ctx).Into(out)
	return out, err
}
