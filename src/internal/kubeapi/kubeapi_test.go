package kubeapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// request is what the fake API server saw.
type request struct {
	method, path, query, contentType, accept string
}

// apiServer answers every request with body (JSON) and records it.
func apiServer(t *testing.T, body string) (*rest.Config, func() request) {
	t.Helper()
	var (
		mu   sync.Mutex
		last request
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		last = request{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), r.Header.Get("Accept")}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	cfg := &rest.Config{Host: srv.URL}
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	return cfg, func() request { mu.Lock(); defer mu.Unlock(); return last }
}

const (
	podJSON    = `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","namespace":"ns","uid":"u1"}}`
	eventJSON  = `{"kind":"Event","apiVersion":"v1","metadata":{"name":"e","namespace":"ns"},"reason":"AddedInterface"}`
	claimJSON  = `{"kind":"ResourceClaim","apiVersion":"resource.k8s.io/v1","metadata":{"name":"c","namespace":"ns"}}`
	slicesJSON = `{"kind":"ResourceSliceList","apiVersion":"resource.k8s.io/v1","items":[{"metadata":{"name":"s"}}]}`
	csrJSON    = `{"kind":"CertificateSigningRequest","apiVersion":"certificates.k8s.io/v1","metadata":{"name":"csr-1"}}`
)

// TestCalls: each call goes to the path, verb, query and content type the
// generated clients use, and decodes the server's answer.
func TestCalls(t *testing.T) {
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "ns"}}
	tests := []struct {
		name string
		body string
		call func(cfg *rest.Config) (string, error) // returns a name from the decoded answer
		want request
	}{
		{"get pod", podJSON, func(cfg *rest.Config) (string, error) {
			c := core(t, cfg)
			p, err := c.Pods("ns").Get(ctx, "p", metav1.GetOptions{ResourceVersion: "0"})
			return string(p.UID), err
		}, request{method: "GET", path: "/api/v1/namespaces/ns/pods/p", query: "resourceVersion=0"}},
		{"list pods of all namespaces", `{"kind":"PodList","apiVersion":"v1","items":[` + podJSON + `]}`, func(cfg *rest.Config) (string, error) {
			l, err := core(t, cfg).Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=n1"})
			if err != nil || len(l.Items) != 1 {
				return "", err
			}
			return string(l.Items[0].UID), nil
		}, request{method: "GET", path: "/api/v1/pods", query: "fieldSelector=spec.nodeName%3Dn1"}},
		{"patch pod status", podJSON, func(cfg *rest.Config) (string, error) {
			p, err := core(t, cfg).Pods("ns").Patch(ctx, "p", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{}, "status")
			return string(p.UID), err
		}, request{method: "PATCH", path: "/api/v1/namespaces/ns/pods/p/status", contentType: string(types.MergePatchType)}},
		{"update pod status", podJSON, func(cfg *rest.Config) (string, error) {
			p, err := core(t, cfg).Pods("ns").UpdateStatus(ctx, pod, metav1.UpdateOptions{})
			return string(p.UID), err
		}, request{method: "PUT", path: "/api/v1/namespaces/ns/pods/p/status", contentType: runtime.ContentTypeProtobuf}},
		{"create event", eventJSON, func(cfg *rest.Config) (string, error) {
			e, err := core(t, cfg).EventSink().Create(ev)
			return e.Reason, err
		}, request{method: "POST", path: "/api/v1/namespaces/ns/events", contentType: runtime.ContentTypeProtobuf}},
		{"patch event", eventJSON, func(cfg *rest.Config) (string, error) {
			e, err := core(t, cfg).EventSink().Patch(ev, []byte(`{"count":2}`))
			return e.Reason, err
		}, request{method: "PATCH", path: "/api/v1/namespaces/ns/events/e", contentType: string(types.StrategicMergePatchType)}},
		{"update event", eventJSON, func(cfg *rest.Config) (string, error) {
			e, err := core(t, cfg).EventSink().Update(ev)
			return e.Reason, err
		}, request{method: "PUT", path: "/api/v1/namespaces/ns/events/e", contentType: runtime.ContentTypeProtobuf}},
		{"get resource claim", claimJSON, func(cfg *rest.Config) (string, error) {
			c, err := NewResource(cfg, nil)
			if err != nil {
				return "", err
			}
			cl, err := c.ResourceClaims("ns").Get(ctx, "c", metav1.GetOptions{})
			return cl.Name, err
		}, request{method: "GET", path: "/apis/resource.k8s.io/v1/namespaces/ns/resourceclaims/c"}},
		{"list resource slices", slicesJSON, func(cfg *rest.Config) (string, error) {
			c, err := NewResource(cfg, nil)
			if err != nil {
				return "", err
			}
			l, err := c.ResourceSlices().List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=n1"})
			if err != nil || len(l.Items) != 1 {
				return "", err
			}
			return l.Items[0].Name, nil
		}, request{method: "GET", path: "/apis/resource.k8s.io/v1/resourceslices", query: "fieldSelector=spec.nodeName%3Dn1"}},
		{"create CSR", csrJSON, func(cfg *rest.Config) (string, error) {
			c, err := CSRs(cfg)
			if err != nil {
				return "", err
			}
			out, err := c.Create(ctx, &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{GenerateName: "x-"}}, metav1.CreateOptions{})
			return out.Name, err
		}, request{method: "POST", path: "/apis/certificates.k8s.io/v1/certificatesigningrequests", contentType: runtime.ContentTypeProtobuf}},
		{"get CSR", csrJSON, func(cfg *rest.Config) (string, error) {
			c, err := CSRs(cfg)
			if err != nil {
				return "", err
			}
			out, err := c.Get(ctx, "csr-1", metav1.GetOptions{})
			return out.Name, err
		}, request{method: "GET", path: "/apis/certificates.k8s.io/v1/certificatesigningrequests/csr-1"}},
	}
	wantAnswer := map[string]string{podJSON: "u1", eventJSON: "AddedInterface", claimJSON: "c", slicesJSON: "s", csrJSON: "csr-1"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, last := apiServer(t, tc.body)
			got, err := tc.call(cfg)
			if err != nil {
				t.Fatal(err)
			}
			want, ok := wantAnswer[tc.body]
			if !ok {
				want = "u1"
			}
			if got != want {
				t.Errorf("decoded %q, want %q", got, want)
			}
			r := last()
			if !strings.HasPrefix(r.accept, runtime.ContentTypeProtobuf) {
				t.Errorf("Accept = %q, want protobuf first", r.accept)
			}
			r.accept = ""
			if r != tc.want {
				t.Errorf("request = %+v, want %+v", r, tc.want)
			}
		})
	}
}

// TestWatchPods: a watch asks for watch=true and decodes the stream.
func TestWatchPods(t *testing.T) {
	var query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		w.Header().Set("Content-Type", "application/json")
		for _, name := range []string{"a", "b"} {
			ev, _ := json.Marshal(map[string]any{"type": "ADDED", "object": map[string]any{
				"kind": "Pod", "apiVersion": "v1", "metadata": map[string]string{"name": name, "namespace": "ns"}}})
			_, _ = w.Write(append(ev, '\n'))
		}
	}))
	defer srv.Close()
	c := core(t, &rest.Config{Host: srv.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := c.Pods("").Watch(ctx, metav1.ListOptions{ResourceVersion: "5"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var names []string
	for ev := range w.ResultChan() {
		names = append(names, ev.Object.(*corev1.Pod).Name)
	}
	if strings.Join(names, ",") != "a,b" {
		t.Errorf("watched %v, want [a b]", names)
	}
	if !strings.Contains(query, "watch=true") || !strings.Contains(query, "resourceVersion=5") {
		t.Errorf("watch query %q lacks watch=true or the resource version", query)
	}
}

// TestSchemeIsSmall: the scheme serves the three groups and no other, the
// reason this package exists.
func TestSchemeIsSmall(t *testing.T) {
	for _, g := range []string{"", "resource.k8s.io", "certificates.k8s.io"} {
		if !Scheme.IsGroupRegistered(g) {
			t.Errorf("group %q not registered", g)
		}
	}
	for _, g := range []string{"apps", "batch", "networking.k8s.io", "rbac.authorization.k8s.io"} {
		if Scheme.IsGroupRegistered(g) {
			t.Errorf("group %q registered: something imports a generated clientset", g)
		}
	}
}

func core(t *testing.T, cfg *rest.Config) *CoreClient {
	t.Helper()
	c, err := NewCore(cfg, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
