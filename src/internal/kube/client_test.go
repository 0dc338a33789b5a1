package kube

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/kubeapi"
	"github.com/multus-thick/multus-thick/src/internal/resolve"
)

// TestNewFromKubeconfig: a kubeconfig client asks for protobuf on core
// types, JSON on the NAD CRD, and uses the configured QPS.
func TestNewFromKubeconfig(t *testing.T) {
	var mu sync.Mutex
	accept := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		accept[r.URL.Path] = r.Header.Get("Accept")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`))
	}))
	defer srv.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	data := "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: " + srv.URL + "}}]\n" +
		"contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: t}}]\n"
	if err := os.WriteFile(kubeconfig, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Kubeconfig: kubeconfig, QPS: 7, Burst: 9}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if qps := c.core.(*kubeapi.CoreClient).RESTClient().GetRateLimiter().QPS(); qps != 7 {
		t.Errorf("QPS = %v, want 7", qps)
	}
	// Not started: lookups go straight to the API.
	_, err = c.Pods().GetPod(context.Background(), attach.PodRef{Namespace: "ns", Name: "p"}, attach.OpAdd)
	if !errors.Is(err, attach.ErrPodNotFound) {
		t.Fatalf("GetPod: %v", err)
	}
	_, err = c.NADs().(resolve.NADProber).ProbeNAD(context.Background(), "ns", "n")
	if !errors.Is(err, resolve.ErrNADNotFound) {
		t.Fatalf("ProbeNAD: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if a := accept["/api/v1/namespaces/ns/pods/p"]; !strings.HasPrefix(a, "application/vnd.kubernetes.protobuf") {
		t.Errorf("pod GET Accept = %q, want protobuf first", a)
	}
	if a := accept["/apis/k8s.cni.cncf.io/v1/namespaces/ns/network-attachment-definitions/n"]; strings.Contains(a, "protobuf") {
		t.Errorf("NAD GET Accept = %q, want JSON (CRDs have no protobuf)", a)
	}
}

func TestNewWithoutCluster(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := New(Config{}, nil); err == nil || !strings.Contains(err.Error(), "in-cluster config") {
		t.Errorf("err = %v, want an in-cluster config error", err)
	}
}
