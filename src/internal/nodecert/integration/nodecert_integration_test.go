//go:build integration

package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/multus-thick/multus-thick/src/internal/certapprover"
	"github.com/multus-thick/multus-thick/src/internal/nodecert"
)

// certLifetime is what the test's signer issues, whatever was asked: short,
// so that nodecert rotates within the test.
const certLifetime = 30 * time.Second

// TestPerNodeCertificate: from the node's bootstrap kubeconfig to a
// certificate of its own (approved by cert-approver, signed by the test
// standing in for kube-controller-manager), the daemon's identity and
// RBAC with it, and a rotation that the client follows past the first
// certificate's expiry.
func TestPerNodeCertificate(t *testing.T) {
	const node = "rot1"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := testLogger(t)
	startApprover(ctx, t, log)
	go signApproved(ctx, t, certLifetime)

	bootstrap := kubeconfigOf(t, "system:node:"+node, "system:nodes")
	certDir := filepath.Join(t.TempDir(), "certs")
	cfg, err := nodecert.Start(ctx, nodecert.Options{NodeName: node, BootstrapKubeconfig: bootstrap, CertDir: certDir,
		FirstCertTimeout: time.Minute, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)

	// Bootstrap and issue: the daemon is system:multus:w1 in system:multus.
	user := whoami(ctx, t, client)
	if user.Username != nodecert.UserPrefix+node || !slices.Contains(user.Groups, nodecert.Group) {
		t.Fatalf("authenticated as %s %v, want %s%s in %s", user.Username, user.Groups, nodecert.UserPrefix, node, nodecert.Group)
	}
	first := currentCert(t, certDir)
	csrs := csrsFor(ctx, t, nodecert.UserPrefix+node)
	if len(csrs) != 1 || csrs[0].Spec.Username != "system:node:"+node {
		t.Fatalf("first CSR requested by %v, want one by system:node:%s", requesters(csrs), node)
	}

	// The service account's role, no more: read pods, not delete them.
	if _, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		t.Errorf("list pods as %s: %v", user.Username, err)
	}
	err = client.CoreV1().Pods("default").Delete(ctx, "anything", metav1.DeleteOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("delete pod as %s: %v, want Forbidden", user.Username, err)
	}

	// Rotate: a second certificate, requested by the daemon itself.
	var second *x509.Certificate
	if err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*certLifetime, true, func(context.Context) (bool, error) {
		second = currentCert(t, certDir)
		return second.SerialNumber.Cmp(first.SerialNumber) != 0, nil
	}); err != nil {
		t.Fatalf("no rotation within %s of a %s certificate: %v", 3*certLifetime, certLifetime, err)
	}
	csrs = csrsFor(ctx, t, nodecert.UserPrefix+node)
	if len(csrs) < 2 || csrs[len(csrs)-1].Spec.Username != nodecert.UserPrefix+node {
		t.Errorf("renewal CSRs requested by %v, want the last by %s%s", requesters(csrs), nodecert.UserPrefix, node)
	}
	// Past the first certificate's expiry the client still works: it uses
	// the new certificate, on new connections.
	if d := time.Until(first.NotAfter); d > 0 {
		select {
		case <-time.After(d + time.Second):
		case <-ctx.Done():
		}
	}
	if u := whoami(ctx, t, client); u.Username != nodecert.UserPrefix+node {
		t.Errorf("after the first certificate expired: authenticated as %q", u.Username)
	}
}

// TestRestartKeepsCertificate: a daemon restarted with a valid
// certificate in certDir uses it: no CSR, no approver needed.
func TestRestartKeepsCertificate(t *testing.T) {
	const node = "restart1"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := testLogger(t)
	approverCtx, stopApprover := context.WithCancel(ctx)
	startApprover(approverCtx, t, log)
	go signApproved(approverCtx, t, 10*time.Minute)
	bootstrap := kubeconfigOf(t, "system:node:"+node, "system:nodes")
	certDir := filepath.Join(t.TempDir(), "certs")
	opts := nodecert.Options{NodeName: node, BootstrapKubeconfig: bootstrap, CertDir: certDir, FirstCertTimeout: time.Minute, Logger: log}
	first, cancelFirst := context.WithCancel(ctx)
	if _, err := nodecert.Start(first, opts); err != nil {
		t.Fatal(err)
	}
	cancelFirst()
	stopApprover()
	issued := currentCert(t, certDir)

	cfg, err := nodecert.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if u := whoami(ctx, t, kubernetes.NewForConfigOrDie(cfg)); u.Username != nodecert.UserPrefix+node {
		t.Errorf("after the restart: authenticated as %q", u.Username)
	}
	if got := currentCert(t, certDir); got.SerialNumber.Cmp(issued.SerialNumber) != 0 {
		t.Errorf("certificate replaced at restart: serial %s, want %s", got.SerialNumber, issued.SerialNumber)
	}
	if csrs := csrsFor(ctx, t, nodecert.UserPrefix+node); len(csrs) != 1 {
		t.Errorf("%d CSRs for %s%s, want the first one only", len(csrs), nodecert.UserPrefix, node)
	}
}

// TestApproverRefuses: CSRs claiming a system:multus: identity that the
// requester may not have are denied with the reason; nothing is approved.
func TestApproverRefuses(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startApprover(ctx, t, testLogger(t))
	node := kubernetes.NewForConfigOrDie(addUser(t, "system:node:w1", "system:nodes"))
	tests := []struct {
		name, cn string
		orgs     []string
		because  string
	}{
		{name: "another node's CN", cn: "system:multus:w2", orgs: []string{"system:multus"},
			because: `CN "system:multus:w2" may be requested only by system:node:w2 or system:multus:w2, not "system:node:w1"`},
		{name: "an extra organization", cn: "system:multus:w1", orgs: []string{"system:multus", "system:nodes"}, because: "organization"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("refuse-%d", i)
			csr := &certificatesv1.CertificateSigningRequest{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: certificatesv1.CertificateSigningRequestSpec{
					Request: csrPEM(t, pkix.Name{CommonName: tc.cn, Organization: tc.orgs}), SignerName: certificatesv1.KubeAPIServerClientSignerName,
					Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
				},
			}
			if _, err := node.CertificatesV1().CertificateSigningRequests().Create(ctx, csr, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			var got *certificatesv1.CertificateSigningRequest
			err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
				var err error
				got, err = suite.admin.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
				return err == nil && len(got.Status.Conditions) > 0, err
			})
			if err != nil {
				t.Fatalf("CSR %s not decided: %v", name, err)
			}
			c := got.Status.Conditions[0]
			if len(got.Status.Conditions) != 1 || c.Type != certificatesv1.CertificateDenied || !strings.Contains(c.Message, tc.because) {
				t.Errorf("CSR %s conditions %+v, want one Denied whose message contains %q", name, got.Status.Conditions, tc.because)
			}
		})
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// startApprover runs cert-approver as its service account, bound by
// deployments/per-node-certificate/rbac-cert-approver.yaml.
func startApprover(ctx context.Context, t *testing.T, log *slog.Logger) {
	t.Helper()
	cfg := addUser(t, "system:serviceaccount:kube-system:multus-cert-approver")
	a := certapprover.New(kubernetes.NewForConfigOrDie(cfg), log, 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Run(ctx); err != nil {
			t.Errorf("approver: %v", err)
		}
	}()
	t.Cleanup(func() { <-done })
}

// signApproved plays the cluster's kube-apiserver-client signer: it signs
// every approved, unsigned CSR of that signer with the API server's client
// CA, for lifetime.
func signApproved(ctx context.Context, t *testing.T, lifetime time.Duration) {
	_ = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		list, err := suite.admin.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for i := range list.Items {
			csr := &list.Items[i]
			if csr.Spec.SignerName != certificatesv1.KubeAPIServerClientSignerName || len(csr.Status.Certificate) > 0 || !approved(csr) {
				continue
			}
			block, _ := pem.Decode(csr.Spec.Request)
			req, err := x509.ParseCertificateRequest(block.Bytes)
			if err != nil {
				t.Errorf("CSR %s: %v", csr.Name, err)
				continue
			}
			if csr.Status.Certificate, err = suite.ca.issue(req.PublicKey, req.Subject, time.Now().Add(-time.Second), lifetime); err != nil {
				t.Errorf("sign CSR %s: %v", csr.Name, err)
				continue
			}
			if _, err := suite.admin.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
				t.Logf("sign CSR %s: %v (retrying)", csr.Name, err)
			}
		}
		return false, nil
	})
}

func approved(csr *certificatesv1.CertificateSigningRequest) bool {
	for _, c := range csr.Status.Conditions {
		if c.Type == certificatesv1.CertificateApproved && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// csrsFor returns the CSRs whose request has CN cn, oldest first.
func csrsFor(ctx context.Context, t *testing.T, cn string) []certificatesv1.CertificateSigningRequest {
	t.Helper()
	list, err := suite.admin.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []certificatesv1.CertificateSigningRequest
	for _, c := range list.Items {
		block, _ := pem.Decode(c.Spec.Request)
		if block == nil {
			continue
		}
		if req, err := x509.ParseCertificateRequest(block.Bytes); err == nil && req.Subject.CommonName == cn {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b certificatesv1.CertificateSigningRequest) int {
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	return out
}

func requesters(csrs []certificatesv1.CertificateSigningRequest) []string {
	var out []string
	for _, c := range csrs {
		out = append(out, c.Spec.Username)
	}
	return out
}

func whoami(ctx context.Context, t *testing.T, c kubernetes.Interface) authenticationv1.UserInfo {
	t.Helper()
	r, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("self subject review: %v", err)
	}
	return r.Status.UserInfo
}

// currentCert is the certificate in certDir's multus-client-current.pem.
func currentCert(t *testing.T, certDir string) *x509.Certificate {
	t.Helper()
	path := filepath.Join(certDir, nodecert.PairPrefix+"-current.pem")
	pair, err := tls.LoadX509KeyPair(path, path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func addUser(t *testing.T, name string, groups ...string) *rest.Config {
	t.Helper()
	u, err := suite.env.AddUser(envtestUser(name, groups), nil)
	if err != nil {
		t.Fatal(err)
	}
	return u.Config()
}

// kubeconfigOf writes a kubeconfig for the user, as a node's bootstrap
// kubeconfig would be (client certificate, cluster CA).
func kubeconfigOf(t *testing.T, name string, groups ...string) string {
	t.Helper()
	cfg := addUser(t, name, groups...)
	kc := clientcmdapi.NewConfig()
	kc.Clusters["it"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["it"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	kc.Contexts["it"] = &clientcmdapi.Context{Cluster: "it", AuthInfo: "it"}
	kc.CurrentContext = "it"
	path := filepath.Join(t.TempDir(), "bootstrap.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func csrPEM(t *testing.T, subject pkix.Name) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}
