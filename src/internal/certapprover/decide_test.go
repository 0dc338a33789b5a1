package certapprover

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func csrPEM(t *testing.T, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

var clientUsages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}

func csr(t *testing.T, user, cn string, orgs []string, edit func(*x509.CertificateRequest, *certificatesv1.CertificateSigningRequest)) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: orgs}}
	c := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "csr-1"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			SignerName: certificatesv1.KubeAPIServerClientSignerName, Username: user, Usages: clientUsages,
		},
	}
	if edit != nil {
		edit(tmpl, c)
	}
	c.Spec.Request = csrPEM(t, tmpl)
	return c
}

func TestDecide(t *testing.T) {
	multus := []string{"system:multus"}
	tests := []struct {
		name    string
		csr     func(t *testing.T) *certificatesv1.CertificateSigningRequest
		want    Verdict
		because string
	}{
		{name: "bootstrap by the node itself", want: Approve,
			csr: func(t *testing.T) *certificatesv1.CertificateSigningRequest {
				return csr(t, "system:node:w1", "system:multus:w1", multus, nil)
			}},
		{name: "renewal by the node's daemon", want: Approve,
			csr: func(t *testing.T) *certificatesv1.CertificateSigningRequest {
				return csr(t, "system:multus:w1", "system:multus:w1", multus, nil)
			}},
		{name: "another node's CN", want: Deny, because: `CN "system:multus:w2" may be requested only by system:node:w2 or system:multus:w2, not "system:node:w1"`,
			csr: func(t *testing.T) *certificatesv1.CertificateSigningRequest {
				return csr(t, "system:node:w1", "system:multus:w2", multus, nil)
			}},
		{name: "a service account asking for a node's identity", want: Deny, because: "may be requested only by",
			csr: func(t *testing.T) *certificatesv1.CertificateSigningRequest {
				return csr(t, "system:serviceaccount:default:x", "system:multus:w1", multus, nil)
			}},
		{name: "extra organization (system:masters)", want: Deny, because: "organization",
			csr: func(t *testing.T) *certificatesv1.CertificateSigningRequest {
				return csr(t, "system:node:w1", "system:multus:w1", []string{"system:multus", "system:masters"}, nil)
			}},
		{name: "subject alternative names", want: Deny, because: "subject alternative names",
			csr: func(t *testing.T) *certificatesv1.CertificateSigningRequest {
				return csr(t, "system:node:w1", "system:multus:w1", multus, func(r *x509.CertificateRequest, _ *certificatesv1.CertificateSigningRequest) {
					r.DNSNames = []string{"w1"}
				})
			}},
		{name: "server auth usage", want: Deny, because: `usage "server auth"`,
			csr: func(t *testing.T) *certificatesv1.CertificateSigningRequest {
				return csr(t, "system:node:w1", "system:multus:w1", multus, func(_ *x509.CertificateRequest, c *certificatesv1.CertificateSigningRequest) {
					c.Spec.Usages = append(c.Spec.Usages, certificatesv1.UsageServerAuth)
				})
			}},
		{name: "no client auth", want: Deny, because: "client auth",
			csr: func(t *testing.T) *certificatesv1.CertificateSigningRequest {
				return csr(t, "system:node:w1", "system:multus:w1", multus, func(_ *x509.CertificateRequest, c *certificatesv1.CertificateSigningRequest) {
					c.Spec.Usages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature}
				})
			}},
		{name: "CN naming no node", want: Deny, because: "does not name one node",
			csr: func(t *testing.T) *certificatesv1.CertificateSigningRequest {
				return csr(t, "system:node:w1", "system:multus:", multus, nil)
			}},
		{name: "a kubelet's own CSR is not ours", want: Ignore,
			csr: func(t *testing.T) *certificatesv1.CertificateSigningRequest {
				return csr(t, "system:node:w1", "system:node:w1", []string{"system:nodes"}, nil)
			}},
		{name: "another signer is not ours", want: Ignore,
			csr: func(t *testing.T) *certificatesv1.CertificateSigningRequest {
				return csr(t, "system:node:w1", "system:multus:w1", multus, func(_ *x509.CertificateRequest, c *certificatesv1.CertificateSigningRequest) {
					c.Spec.SignerName = certificatesv1.KubeletServingSignerName
				})
			}},
		{name: "already approved", want: Ignore,
			csr: func(t *testing.T) *certificatesv1.CertificateSigningRequest {
				c := csr(t, "system:node:w1", "system:multus:w1", multus, nil)
				c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}}
				return c
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := Decide(tc.csr(t))
			if got != tc.want {
				t.Fatalf("verdict %s (%s), want %s", got, reason, tc.want)
			}
			if !strings.Contains(reason, tc.because) {
				t.Errorf("reason %q does not contain %q", reason, tc.because)
			}
		})
	}
}

// TestHandleRecordsTheVerdict: the verdict is written as the CSR's
// approval condition, with the reason as its message.
func TestHandleRecordsTheVerdict(t *testing.T) {
	for _, tc := range []struct {
		name, user, cn string
		want           certificatesv1.RequestConditionType
	}{
		{"approve", "system:node:w1", "system:multus:w1", certificatesv1.CertificateApproved},
		{"deny", "system:node:w1", "system:multus:w2", certificatesv1.CertificateDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := csr(t, tc.user, tc.cn, []string{"system:multus"}, nil)
			client := fake.NewClientset(c)
			New(client, nil, 0).Handle(context.Background(), c)
			got, err := client.CertificatesV1().CertificateSigningRequests().Get(context.Background(), c.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Status.Conditions) != 1 || got.Status.Conditions[0].Type != tc.want || got.Status.Conditions[0].Message == "" {
				t.Errorf("conditions %+v, want one %s with a message", got.Status.Conditions, tc.want)
			}
		})
	}
}
