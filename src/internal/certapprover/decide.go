// Package certapprover approves the CSRs of multus-thick's per-node client
// certificates (perNodeCertificate, multus-thick-behaviour.md §3.7), and
// only those: CN system:multus:<node>, O system:multus, signer
// kubernetes.io/kube-apiserver-client, client-auth usages, requested by
// that node (system:node:<node>) or by the daemon of that node renewing
// (system:multus:<node>). A CSR claiming a system:multus: CN that breaks
// any rule is denied with the reason; every other CSR is left alone.
package certapprover

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/multus-thick/multus-thick/src/internal/nodecert"
)

// Verdict is what the approver does with a CSR.
type Verdict int

const (
	// Ignore: not a multus-thick CSR, or already decided.
	Ignore Verdict = iota
	Approve
	Deny
)

func (v Verdict) String() string { return [...]string{"ignore", "approve", "deny"}[v] }

const nodeUserPrefix = "system:node:"

// allowedUsages may appear; client auth must.
var allowedUsages = []certificatesv1.KeyUsage{
	certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth,
}

// Decide returns the verdict on csr and, for Approve and Deny, the reason.
func Decide(csr *certificatesv1.CertificateSigningRequest) (Verdict, string) {
	if decided(csr) || csr.Spec.SignerName != certificatesv1.KubeAPIServerClientSignerName {
		return Ignore, ""
	}
	req, err := parse(csr.Spec.Request)
	if err != nil {
		// Not ours unless it claims to be; an unparsable request claims nothing.
		return Ignore, ""
	}
	node, ok := strings.CutPrefix(req.Subject.CommonName, nodecert.UserPrefix)
	if !ok {
		return Ignore, ""
	}
	if reason := refuse(csr, req, node); reason != "" {
		return Deny, reason
	}
	return Approve, fmt.Sprintf("per-node client certificate of multus-thick on node %s, requested by %s", node, csr.Spec.Username)
}

// refuse returns why a CSR for CN system:multus:<node> must not be
// approved, or "".
func refuse(csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest, node string) string {
	cn := req.Subject.CommonName
	switch {
	case node == "" || strings.Contains(node, ":"):
		return fmt.Sprintf("CN %q does not name one node", cn)
	case csr.Spec.Username != nodeUserPrefix+node && csr.Spec.Username != nodecert.UserPrefix+node:
		return fmt.Sprintf("CN %q may be requested only by %s%s or %s, not %q", cn, nodeUserPrefix, node, cn, csr.Spec.Username)
	case !slices.Equal(req.Subject.Organization, []string{nodecert.Group}):
		return fmt.Sprintf("organization %q, want exactly [%s]", req.Subject.Organization, nodecert.Group)
	case len(req.DNSNames)+len(req.IPAddresses)+len(req.EmailAddresses)+len(req.URIs) > 0:
		return "a client certificate must have no subject alternative names"
	case !slices.Contains(csr.Spec.Usages, certificatesv1.UsageClientAuth):
		return "usages lack client auth"
	}
	for _, u := range csr.Spec.Usages {
		if !slices.Contains(allowedUsages, u) {
			return fmt.Sprintf("usage %q is not allowed (only digital signature, key encipherment, client auth)", u)
		}
	}
	if err := req.CheckSignature(); err != nil {
		return fmt.Sprintf("request signature: %v", err)
	}
	return ""
}

func decided(csr *certificatesv1.CertificateSigningRequest) bool {
	if len(csr.Status.Certificate) > 0 {
		return true
	}
	for _, c := range csr.Status.Conditions {
		if c.Type == certificatesv1.CertificateApproved || c.Type == certificatesv1.CertificateDenied || c.Type == certificatesv1.CertificateFailed {
			return true
		}
	}
	return false
}

func parse(data []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("no PEM certificate request")
	}
	return x509.ParseCertificateRequest(block.Bytes)
}
