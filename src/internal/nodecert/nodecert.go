// Package nodecert gives the daemon a client certificate of its own per
// node (upstream's perNodeCertificate, multus-thick-behaviour.md §3.7): it
// requests CN system:multus:<node>, O system:multus from the
// kube-apiserver-client signer through a CertificateSigningRequest, with
// the bootstrap kubeconfig's identity until it holds a valid certificate
// and with that certificate after, and rotates it before it expires.
//
// Only the typed certificates/v1 client is used: client-go's certificate
// manager takes a whole kubernetes.Interface, which links every API
// group's clientset into the daemon.
package nodecert

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/connrotation"
)

// The identity of a node's daemon.
const (
	UserPrefix = "system:multus:"
	Group      = "system:multus"
	// PairPrefix names the file in CertDir: <prefix>-current.pem holds the
	// current certificate and its key (the name client-go's store used, so
	// a node keeps its certificate across the upgrade).
	PairPrefix = "multus-client"
)

// Defaults (upstream's).
const (
	DefaultCertDuration     = 10 * time.Minute
	DefaultFirstCertTimeout = 2 * time.Minute
)

// Rotation starts between these fractions of the certificate's lifetime
// (jittered, so that the nodes of a cluster do not renew together), and a
// failed renewal is retried with backoff up to maxRetryBackoff.
const (
	rotateMin       = 0.7
	rotateMax       = 0.9
	firstRetry      = time.Second
	maxRetryBackoff = time.Minute
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
	// FirstCertTimeout bounds the wait for the first certificate, and each
	// renewal's (0: 2m).
	FirstCertTimeout time.Duration
	Logger           *slog.Logger
}

// Start loads the certificate in CertDir if it is still valid, or requests
// one and waits for it (bounded by FirstCertTimeout), then rotates it
// until ctx ends. The returned rest.Config authenticates with the current
// certificate on every TLS handshake, and open connections are closed
// when it rotates, so long-running watches move to the new one before the
// old one expires.
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
	r := &rotator{opts: opts, bootstrap: bootstrap, path: filepath.Join(opts.CertDir, PairPrefix+"-current.pem"),
		dialer: connrotation.NewDialer((&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext)}
	cfg, err := r.clientConfig()
	if err != nil {
		return nil, err
	}
	if cur, err := loadPair(r.path, r.cn(), time.Now()); err != nil {
		opts.Logger.Info("no usable client certificate in certDir; requesting one", "reason", err)
	} else {
		r.current.Store(cur)
		opts.Logger.Info("client certificate loaded", "path", r.path, "notAfter", cur.cert.Leaf.NotAfter)
	}
	if r.current.Load() == nil {
		if err := r.renew(ctx); err != nil {
			return nil, fmt.Errorf("perNodeCertificate: %w for %s within %s (is cert-approver running?): %w",
				ErrNoCertificate, r.cn(), opts.FirstCertTimeout, err)
		}
	}
	go r.run(ctx)
	return cfg, nil
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

// rotator holds the current certificate and renews it.
type rotator struct {
	opts      Options
	bootstrap *rest.Config
	path      string
	current   atomic.Pointer[pair]
	dialer    *connrotation.Dialer
}

func (r *rotator) cn() string { return UserPrefix + r.opts.NodeName }

// clientConfig is bootstrap's server and CA with the current certificate
// as the only credential, through GetClientCertificate.
func (r *rotator) clientConfig() (*rest.Config, error) {
	anon := rest.AnonymousClientConfig(r.bootstrap)
	tlsCfg, err := rest.TLSConfigFor(anon)
	if err != nil {
		return nil, fmt.Errorf("perNodeCertificate: TLS config of %s: %w", r.opts.BootstrapKubeconfig, err)
	}
	if tlsCfg == nil {
		return nil, fmt.Errorf("perNodeCertificate: bootstrapKubeconfig %s: server %s is not https", r.opts.BootstrapKubeconfig, r.bootstrap.Host)
	}
	tlsCfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if c := r.current.Load(); c != nil {
			return c.cert, nil
		}
		return &tls.Certificate{}, nil
	}
	return &rest.Config{
		Host:    anon.Host,
		APIPath: anon.APIPath,
		Transport: utilnet.SetTransportDefaults(&http.Transport{
			TLSClientConfig: tlsCfg, DialContext: r.dialer.DialContext,
			TLSHandshakeTimeout: 10 * time.Second, MaxIdleConnsPerHost: 25,
		}),
		Timeout: anon.Timeout,
	}, nil
}

// run renews the certificate at a jittered point of its lifetime, and
// retries a failed renewal with backoff, until ctx ends.
func (r *rotator) run(ctx context.Context) {
	backoff := firstRetry
	for {
		wait := time.Until(rotationTime(r.current.Load().cert.Leaf, rand.Float64()))
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		for {
			err := r.renew(ctx)
			if err == nil {
				backoff = firstRetry
				break
			}
			if ctx.Err() != nil {
				return
			}
			r.opts.Logger.Warn("client certificate renewal failed; retrying", "err", err, "in", backoff,
				"notAfter", r.current.Load().cert.Leaf.NotAfter)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxRetryBackoff)
		}
	}
}

// renew requests a certificate, stores it and makes it current; open
// connections are closed so that they reconnect with it.
func (r *rotator) renew(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.FirstCertTimeout)
	defer cancel()
	identity := r.bootstrap
	// Renewal as system:multus:<node> while the current one is valid.
	if cur := r.current.Load(); cur != nil && time.Now().Before(cur.cert.Leaf.NotAfter) {
		identity = rest.AnonymousClientConfig(r.bootstrap)
		// The file holds both; each side picks its PEM blocks.
		identity.TLSClientConfig.CertData, identity.TLSClientConfig.KeyData = cur.pem, cur.pem
	}
	pemPair, err := request(ctx, identity, r.cn(), r.opts.CertDuration)
	if err != nil {
		return err
	}
	p, err := parsePair(pemPair, r.cn(), time.Now())
	if err != nil {
		return fmt.Errorf("issued certificate: %w", err)
	}
	if err := storePair(r.path, pemPair); err != nil {
		return err
	}
	old := r.current.Swap(p)
	if old != nil {
		r.dialer.CloseAll()
	}
	r.opts.Logger.Info("client certificate issued", "subject", p.cert.Leaf.Subject.String(),
		"notAfter", p.cert.Leaf.NotAfter, "rotated", old != nil)
	return nil
}
