// Package kubeapi is the daemon's hand-written client for the few built-in
// API calls it makes: pods (get, list, watch, status patch and update),
// events (the recorder's sink), resource claims and slices (DRA device
// IDs) and certificate signing requests (perNodeCertificate).
//
// Why not client-go's generated typed clients: each of them imports
// k8s.io/client-go/kubernetes/scheme, which registers every API group
// (about 60 packages of k8s.io/api, their protobuf and deep-copy code).
// That alone was more than half of the daemon's binary and of its
// file-backed memory. This package registers only the three groups it
// serves, on rest.RESTClient, and keeps the typed clients' method shapes so
// client-go's fakes satisfy its interfaces in unit tests.
package kubeapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/rest"
)

// Scheme knows core/v1, resource.k8s.io/v1 and certificates.k8s.io/v1,
// and nothing else; the event recorder uses it to build object references.
var Scheme = runtime.NewScheme()

var (
	codecs         = serializer.NewCodecFactory(Scheme)
	parameterCodec = runtime.NewParameterCodec(Scheme)
)

func init() {
	utilruntime.Must(corev1.AddToScheme(Scheme))
	utilruntime.Must(resourcev1.AddToScheme(Scheme))
	utilruntime.Must(certificatesv1.AddToScheme(Scheme))
}

// restClient is a RESTClient for one group version, sharing httpClient (one
// connection pool for every group, as a clientset does); nil builds one
// from cfg.
func restClient(cfg *rest.Config, httpClient *http.Client, apiPath string, gv schema.GroupVersion) (*rest.RESTClient, error) {
	if httpClient == nil {
		var err error
		if httpClient, err = httpClientFor(cfg); err != nil {
			return nil, err
		}
	}
	c := rest.CopyConfig(cfg)
	c.APIPath = apiPath
	c.GroupVersion = &gv
	c.NegotiatedSerializer = codecs.WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	rc, err := rest.RESTClientForConfigAndClient(c, httpClient)
	if err != nil {
		return nil, fmt.Errorf("%s client: %w", gv, err)
	}
	return rc, nil
}

// httpClientFor is rest.HTTPClientFor with the error named once here.
func httpClientFor(cfg *rest.Config) (*http.Client, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("api client transport: %w", err)
	}
	return hc, nil
}

// watchTimeout is the server-side timeout a watch asks for, as the
// generated clients derive it.
func watchTimeout(opts metav1.ListOptions) time.Duration {
	if opts.TimeoutSeconds == nil {
		return 0
	}
	return time.Duration(*opts.TimeoutSeconds) * time.Second
}

// callContext bounds a call that client-go's interfaces give no context
// (the event sink).
func callContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), timeout)
}
