package nodecert

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/client-go/rest"

	"github.com/multus-thick/multus-thick/src/internal/atomicfile"
	"github.com/multus-thick/multus-thick/src/internal/kubeapi"
)

// pollInterval is how often a pending CSR is read until it is signed.
const pollInterval = 500 * time.Millisecond

// pair is a certificate with its key: parsed, and as stored (PEM).
type pair struct {
	cert *tls.Certificate
	pem  []byte
}

// request creates a CSR for cn with a fresh key, as identity, and waits
// (until ctx ends) for it to be approved and signed. It returns the
// issued certificate followed by the key, PEM.
func request(ctx context.Context, identity *rest.Config, cn string, lifetime time.Duration) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn, Organization: []string{Group}},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("certificate request: %w", err)
	}
	csrs, err := kubeapi.CSRs(identity)
	if err != nil {
		return nil, fmt.Errorf("certificates client: %w", err)
	}
	seconds := int32(lifetime / time.Second)
	created, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: PairPrefix + "-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:           pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName:        certificatesv1.KubeAPIServerClientSignerName,
			Usages:            []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
			ExpirationSeconds: &seconds,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create CSR for %s: %w", cn, err)
	}
	certPEM, err := waitIssued(ctx, csrs, created.Name)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...), nil
}

// waitIssued reads the CSR until it carries a certificate; a denied or
// failed CSR is an error with its reason.
func waitIssued(ctx context.Context, csrs kubeapi.CSRInterface, name string) ([]byte, error) {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		csr, err := csrs.Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			if err := refused(csr); err != nil {
				return nil, err
			}
			if len(csr.Status.Certificate) > 0 {
				return csr.Status.Certificate, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("CSR %s not signed: %w", name, errors.Join(context.Cause(ctx), err))
		case <-tick.C:
		}
	}
}

func refused(csr *certificatesv1.CertificateSigningRequest) error {
	for _, c := range csr.Status.Conditions {
		if (c.Type == certificatesv1.CertificateDenied || c.Type == certificatesv1.CertificateFailed) && c.Status == corev1.ConditionTrue {
			return fmt.Errorf("CSR %s %s: %s: %s", csr.Name, c.Type, c.Reason, c.Message)
		}
	}
	return nil
}

// parsePair checks that data holds a certificate for cn with its key,
// valid at now.
func parsePair(data []byte, cn string, now time.Time) (*pair, error) {
	cert, err := tls.X509KeyPair(data, data)
	if err != nil {
		return nil, err
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, err
		}
		cert.Leaf = leaf
	}
	switch {
	case leaf.Subject.CommonName != cn:
		return nil, fmt.Errorf("certificate for %q, want %q", leaf.Subject.CommonName, cn)
	case now.Before(leaf.NotBefore) || !now.Before(leaf.NotAfter):
		return nil, fmt.Errorf("certificate valid from %s to %s, not now (%s)", leaf.NotBefore, leaf.NotAfter, now)
	}
	return &pair{cert: &cert, pem: data}, nil
}

// loadPair is the certificate stored at path, if it is valid for cn now.
func loadPair(path, cn string, now time.Time) (*pair, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := parsePair(data, cn, now)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// storePair replaces path with the certificate and key, readable by the
// daemon only, fsynced: the daemon restarts with it after a reboot.
func storePair(path string, data []byte) error {
	if err := atomicfile.Write(path, data, 0o600, atomicfile.Sync); err != nil {
		return fmt.Errorf("store client certificate: %w", err)
	}
	return nil
}

// rotationTime is when a renewal starts: at rotateMin to rotateMax of the
// lifetime, f in [0,1) choosing where.
func rotationTime(leaf *x509.Certificate, f float64) time.Time {
	lifetime := leaf.NotAfter.Sub(leaf.NotBefore)
	return leaf.NotBefore.Add(time.Duration(float64(lifetime) * (rotateMin + (rotateMax-rotateMin)*f)))
}
