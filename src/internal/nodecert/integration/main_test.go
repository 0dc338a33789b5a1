//go:build integration

package integration

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/multus-thick/multus-thick/src/internal/testutil/envtestutil"
)

var suite struct {
	env   *envtest.Environment
	ca    *testCA
	admin kubernetes.Interface
	// adminREST is a cluster-admin config; users are derived from it.
	adminREST *rest.Config
	dir       string
}

func TestMain(m *testing.M) {
	os.Exit(envtestutil.Main(m, setup, func() {
		envtestutil.Stop(suite.env)
		os.RemoveAll(suite.dir)
	}))
}

func setup() error {
	var err error
	if suite.dir, err = os.MkdirTemp("", "mt-cert-it"); err != nil {
		return err
	}
	if suite.ca, err = newTestCA(); err != nil {
		return err
	}
	// No NAD CRD here, but the CA as the API server's client
	// authenticator, so envtestutil.NewEnv does not fit.
	suite.env = &envtest.Environment{}
	api := suite.env.ControlPlane.GetAPIServer()
	api.SecureServing.Authn = suite.ca
	if _, err := suite.env.Start(); err != nil {
		return fmt.Errorf("start envtest: %w", err)
	}
	admin, cs, err := envtestutil.AddAdmin(suite.env)
	if err != nil {
		return err
	}
	suite.adminREST, suite.admin = admin.Config(), cs
	// The daemon's role, and the optional per-node and approver RBAC.
	for _, f := range []string{"deployments/rbac.yaml", "deployments/per-node-certificate/rbac-daemon.yaml", "deployments/per-node-certificate/rbac-cert-approver.yaml"} {
		if err := apply(filepath.Join(envtestutil.RepoRoot(), f)); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	// Stands in for the cluster's node authorizer, which lets a kubelet
	// (the bootstrap identity) create CSRs.
	return createBinding("it-nodes-csr", "system:node-bootstrapper", rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:nodes"})
}

// apply creates the RBAC objects and service accounts of a manifest file.
func apply(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	ctx := context.Background()
	dec := serializer.NewCodecFactory(scheme.Scheme).UniversalDeserializer()
	for _, doc := range strings.Split(string(data), "\n---") {
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil || strings.TrimSpace(string(js)) == "null" {
			continue
		}
		obj, _, err := dec.Decode(js, nil, nil)
		if err != nil {
			return err
		}
		switch o := obj.(type) {
		case *rbacv1.ClusterRole:
			_, err = suite.admin.RbacV1().ClusterRoles().Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.ClusterRoleBinding:
			_, err = suite.admin.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
		default:
			continue // service accounts: the tests authenticate by certificate
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func createBinding(name, role string, subject rbacv1.Subject) error {
	b := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{subject},
	}
	_, err := suite.admin.RbacV1().ClusterRoleBindings().Create(context.Background(), b, metav1.CreateOptions{})
	return err
}

// testCA is the API server's client CA (an envtest.Authn), so that the
// test can sign CSRs as the cluster's kube-apiserver-client signer would.
type testCA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	path   string
	serial atomic.Int64
}

var _ envtest.Authn = (*testCA)(nil)

func newTestCA() (*testCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mt-it-client-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &testCA{cert: cert, key: key}
	ca.serial.Store(1)
	return ca, nil
}

func (c *testCA) Configure(workDir string, args *envtest.Arguments) error {
	c.path = filepath.Join(workDir, "mt-client-ca.crt")
	args.Set("client-ca-file", c.path)
	return nil
}

func (c *testCA) Start() error {
	return os.WriteFile(c.path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw}), 0o600)
}

func (c *testCA) Stop() error { return nil }

func (c *testCA) AddUser(u envtest.User, base *rest.Config) (*rest.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	certPEM, err := c.issue(&key.PublicKey, pkix.Name{CommonName: u.Name, Organization: u.Groups}, time.Now(), 24*time.Hour)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(base)
	cfg.CertData = certPEM
	cfg.KeyData = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	return cfg, nil
}

// issue signs a client certificate valid from notBefore for lifetime.
func (c *testCA) issue(pub crypto.PublicKey, subject pkix.Name, notBefore time.Time, lifetime time.Duration) ([]byte, error) {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(c.serial.Add(1)), Subject: subject,
		NotBefore: notBefore, NotAfter: notBefore.Add(lifetime),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, pub, c.key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func envtestUser(name string, groups []string) envtest.User {
	return envtest.User{Name: name, Groups: groups}
}
