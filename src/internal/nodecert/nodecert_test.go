package nodecert

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Bad configuration fails before anything is written, naming the key.
func TestStartRefusesBadOptions(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such.kubeconfig")
	tests := []struct {
		name string
		opts Options
		want []string
		is   error
	}{
		{name: "no node name", opts: Options{BootstrapKubeconfig: missing, CertDir: dir}, want: []string{"MULTUS_NODE_NAME"}},
		{name: "no bootstrap kubeconfig", opts: Options{NodeName: "w1", CertDir: dir}, want: []string{"bootstrapKubeconfig is required"}},
		{name: "no certDir", opts: Options{NodeName: "w1", BootstrapKubeconfig: missing}, want: []string{"certDir is required"}},
		{name: "bootstrap kubeconfig does not exist", opts: Options{NodeName: "w1", BootstrapKubeconfig: missing, CertDir: filepath.Join(dir, "certs")},
			want: []string{"bootstrapKubeconfig", missing}, is: fs.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Start(context.Background(), tc.opts)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v does not contain %q", err, w)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
			if matches, _ := filepath.Glob(filepath.Join(dir, "certs", "*")); len(matches) > 0 {
				t.Errorf("files written on a refused config: %v", matches)
			}
		})
	}
}

// A renewal starts at 70-90% of the certificate's lifetime.
func TestRotationTime(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	leaf := &x509.Certificate{NotBefore: nb, NotAfter: nb.Add(100 * time.Minute)}
	for _, tc := range []struct {
		f    float64
		want time.Duration
	}{{0, 70 * time.Minute}, {0.5, 80 * time.Minute}, {0.999999, 90 * time.Minute}} {
		if got := rotationTime(leaf, tc.f).Sub(nb).Round(time.Second); got != tc.want {
			t.Errorf("rotationTime(f=%v) = NotBefore+%s, want +%s", tc.f, got, tc.want)
		}
	}
}

// An existing certificate is used only when it is this node's and valid
// now; storePair writes it for the daemon only, replacing the old one.
func TestLoadPair(t *testing.T) {
	now := time.Now()
	const cn = UserPrefix + "w1"
	dir := t.TempDir()
	path := filepath.Join(dir, PairPrefix+"-current.pem")
	if _, err := loadPair(path, cn, now); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no file: err = %v, want not-exist", err)
	}
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{name: "valid", data: selfSigned(t, cn, now.Add(-time.Minute), now.Add(time.Hour))},
		{name: "expired", data: selfSigned(t, cn, now.Add(-time.Hour), now.Add(-time.Minute)), wantErr: "not now"},
		{name: "not yet valid", data: selfSigned(t, cn, now.Add(time.Minute), now.Add(time.Hour)), wantErr: "not now"},
		{name: "another node's", data: selfSigned(t, UserPrefix+"w2", now.Add(-time.Minute), now.Add(time.Hour)), wantErr: `"system:multus:w2"`},
		{name: "garbage", data: []byte("not PEM"), wantErr: path},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := storePair(path, tc.data); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("stored file: %v %v, want mode 0600", fi, err)
			}
			p, err := loadPair(path, cn, now)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.cert.Leaf.Subject.CommonName != cn || string(p.pem) != string(tc.data) {
				t.Errorf("loaded %s", p.cert.Leaf.Subject.CommonName)
			}
		})
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, ".*")); len(matches) > 0 {
		t.Errorf("temp files left: %v", matches)
	}
}

// selfSigned is a certificate for cn and its key, PEM, as the file holds them.
func selfSigned(t *testing.T, cn string, notBefore, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn, Organization: []string{Group}},
		NotBefore: notBefore, NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...)
}

// A denied or failed CSR ends the wait with its reason; pending and
// approved ones do not.
func TestRefused(t *testing.T) {
	cond := func(typ certificatesv1.RequestConditionType, status corev1.ConditionStatus) *certificatesv1.CertificateSigningRequest {
		return &certificatesv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{Name: "multus-client-x"},
			Status: certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{
				{Type: typ, Status: status, Reason: "Because", Message: "CN not yours"},
			}},
		}
	}
	for _, tc := range []struct {
		name string
		csr  *certificatesv1.CertificateSigningRequest
		want string
	}{
		{"pending", &certificatesv1.CertificateSigningRequest{}, ""},
		{"approved", cond(certificatesv1.CertificateApproved, corev1.ConditionTrue), ""},
		{"denied", cond(certificatesv1.CertificateDenied, corev1.ConditionTrue), "CSR multus-client-x Denied: Because: CN not yours"},
		{"failed", cond(certificatesv1.CertificateFailed, corev1.ConditionTrue), "CSR multus-client-x Failed"},
	} {
		err := refused(tc.csr)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}
