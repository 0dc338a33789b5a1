// Package nodecert gives the daemon a client certificate of its own per
// node (upstream's perNodeCertificate, multus-thick-behaviour.md §3.7):
// client-go's certificate manager requests CN system:multus:<node>, O
// system:multus from the kube-apiserver-client signer, with the bootstrap
// kubeconfig's identity until it holds a valid certificate and with that
// certificate after, and rotates it before it expires.
package nodecert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/certificate"
	"k8s.io/client-go/util/connrotation"
)

// The identity of a node's daemon.
const (
	UserPrefix = "system:multus:"
	Group      = "system:multus"
	// PairPrefix names the files in CertDir: <prefix>-current.pem is the
	// current certificate and key.
	PairPrefix = "multus-client"
)

// Defaults (upstream's).
const (
	DefaultCertDuration     = 10 * time.Minute
	DefaultFirstCertTimeout = 2 * time.Minute
)

// ErrNoCertificate: the first certificate did not arrive in time.
var ErrNoCertificate = errors.New("no client certificate issued")

// Options configure Start.
type Options struct {
	NodeName            string
	BootstrapKubeconfig string
	CertDir             string
	// CertDuration is the lifetime asked for (0: 10m).
	CertDuration time.Duration
	// FirstCertTimeout bounds the wait for the first certificate (0: 2m).
	FirstCertTimeout time.Duration
	Logger           *slog.Logger
}

// Start runs the certificate manager until ctx ends, waits for the first
// certificate and returns a rest.Config that authenticates with it. Every
// TLS handshake presents the current certificate, and open connections
// are closed when it rotates, so long-running watches move to the new one
// before the old one expires.
func Start(ctx context.Context, opts Options) (*rest.Config, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	bootstrap, err := clientcmd.BuildConfigFromFlags("", opts.BootstrapKubeconfig)
	if err != nil {
		return nil, fmt.Errorf("perNodeCertificate: bootstrapKubeconfig %s: %w", opts.BootstrapKubeconfig, err)
	}
	if err := os.MkdirAll(opts.CertDir, 0o700); err != nil {
		return nil, fmt.Errorf("perNodeCertificate: certDir: %w", err)
	}
	store, err := certificate.NewFileStore(PairPrefix, opts.CertDir, opts.CertDir, "", "")
	if err != nil {
		return nil, fmt.Errorf("perNodeCertificate: certDir %s: %w", opts.CertDir, err)
	}
	mgr, err := certificate.NewManager(&certificate.Config{
		ClientsetFn: csrClient(bootstrap, store),
		Template: &x509.CertificateRequest{Subject: pkix.Name{
			CommonName: UserPrefix + opts.NodeName, Organization: []string{Group},
		}},
		SignerName:                   certificatesv1.KubeAPIServerClientSignerName,
		Usages:                       []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		RequestedCertificateLifetime: &opts.CertDuration,
		CertificateStore:             store,
		Name:                         "multus-client",
	})
	if err != nil {
		return nil, fmt.Errorf("perNodeCertificate: certificate manager: %w", err)
	}
	mgr.Start()
	go func() {
		<-ctx.Done()
		mgr.Stop()
	}()
	if err := waitFirst(ctx, mgr, opts); err != nil {
		return nil, err
	}
	return clientConfig(ctx, bootstrap, mgr, opts)
}

func (o *Options) defaults() error {
	switch {
	case o.NodeName == "":
		return errors.New("perNodeCertificate: the node name (MULTUS_NODE_NAME) is required")
	case o.BootstrapKubeconfig == "":
		return errors.New("perNodeCertificate: bootstrapKubeconfig is required")
	case o.CertDir == "":
		return errors.New("perNodeCertificate: certDir is required")
	}
	if _, err := os.Stat(o.BootstrapKubeconfig); err != nil {
		return fmt.Errorf("perNodeCertificate: bootstrapKubeconfig: %w", err)
	}
	if o.CertDuration == 0 {
		o.CertDuration = DefaultCertDuration
	}
	if o.FirstCertTimeout == 0 {
		o.FirstCertTimeout = DefaultFirstCertTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// csrClient is the client the manager requests certificates with: the
// current certificate while it is valid (renewal as system:multus:<node>),
// else the bootstrap identity.
func csrClient(bootstrap *rest.Config, store certificate.FileStore) certificate.ClientsetFunc {
	return func(current *tls.Certificate) (kubernetes.Interface, error) {
		if current == nil || current.Leaf == nil || time.Now().After(current.Leaf.NotAfter) {
			return kubernetes.NewForConfig(bootstrap)
		}
		cfg := rest.AnonymousClientConfig(bootstrap)
		cfg.CertFile, cfg.KeyFile = store.CurrentPath(), store.CurrentPath()
		return kubernetes.NewForConfig(cfg)
	}
}

func waitFirst(ctx context.Context, mgr certificate.Manager, opts Options) error {
	ctx, cancel := context.WithTimeout(ctx, opts.FirstCertTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for mgr.Current() == nil {
		select {
		case <-ctx.Done():
			return fmt.Errorf("perNodeCertificate: %w for %s%s within %s (is cert-approver running?): %w",
				ErrNoCertificate, UserPrefix, opts.NodeName, opts.FirstCertTimeout, ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// clientConfig is bootstrap's server and CA with the manager's current
// certificate as the only credential.
func clientConfig(ctx context.Context, bootstrap *rest.Config, mgr certificate.Manager, opts Options) (*rest.Config, error) {
	anon := rest.AnonymousClientConfig(bootstrap)
	tlsCfg, err := rest.TLSConfigFor(anon)
	if err != nil {
		return nil, fmt.Errorf("perNodeCertificate: TLS config of %s: %w", opts.BootstrapKubeconfig, err)
	}
	if tlsCfg == nil {
		return nil, fmt.Errorf("perNodeCertificate: bootstrapKubeconfig %s: server %s is not https", opts.BootstrapKubeconfig, bootstrap.Host)
	}
	tlsCfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if c := mgr.Current(); c != nil {
			return c, nil
		}
		return &tls.Certificate{}, nil
	}
	dialer := connrotation.NewDialer((&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext)
	go closeOnRotation(ctx, mgr, dialer, opts.Logger)
	return &rest.Config{
		Host:    anon.Host,
		APIPath: anon.APIPath,
		Transport: utilnet.SetTransportDefaults(&http.Transport{
			TLSClientConfig: tlsCfg, DialContext: dialer.DialContext,
			TLSHandshakeTimeout: 10 * time.Second, MaxIdleConnsPerHost: 25,
		}),
		Timeout: anon.Timeout,
	}, nil
}

// rotationCheck is how often the current certificate is compared with
// the one connections were opened with, from its lifetime: often enough
// that connections move before the old one expires (upstream uses 10 s
// under 1 h).
func rotationCheck(lifetime time.Duration) time.Duration {
	if lifetime < time.Hour {
		return min(10*time.Second, max(lifetime/20, time.Second))
	}
	return time.Minute
}

func lifetimeOf(c *tls.Certificate) time.Duration {
	if c == nil || c.Leaf == nil {
		return 0
	}
	return c.Leaf.NotAfter.Sub(c.Leaf.NotBefore)
}

func closeOnRotation(ctx context.Context, mgr certificate.Manager, dialer *connrotation.Dialer, log *slog.Logger) {
	last := mgr.Current()
	timer := time.NewTimer(rotationCheck(lifetimeOf(last)))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if c := mgr.Current(); c != nil && c != last {
			last = c
			dialer.CloseAll()
			if c.Leaf != nil {
				log.Info("client certificate rotated; connections reopened", "subject", c.Leaf.Subject.String(), "notAfter", c.Leaf.NotAfter)
			}
		}
		timer.Reset(rotationCheck(lifetimeOf(last)))
	}
}
