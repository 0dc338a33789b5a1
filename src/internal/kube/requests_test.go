package kube

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRequestKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method, url    string
		verb, resource string
	}{
		{"GET", "/api/v1/namespaces/ns/pods/p", "get", "pods"},
		{"GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn", "list", "pods"},
		{"GET", "/api/v1/pods?watch=true&resourceVersion=5", "watch", "pods"},
		{"PATCH", "/api/v1/namespaces/ns/pods/p/status", "patch", "pods/status"},
		{"PUT", "/api/v1/namespaces/ns/pods/p/status", "update", "pods/status"},
		{"POST", "/api/v1/namespaces/ns/events", "create", "events"},
		{"PATCH", "/api/v1/namespaces/ns/events/e", "patch", "events"},
		{"GET", "/apis/k8s.cni.cncf.io/v1/network-attachment-definitions?limit=500", "list", "network-attachment-definitions"},
		{"GET", "/apis/k8s.cni.cncf.io/v1/namespaces/ns/network-attachment-definitions/n", "get", "network-attachment-definitions"},
		{"GET", "/apis/resource.k8s.io/v1/resourceslices?fieldSelector=x", "list", "resourceslices"},
		{"DELETE", "/api/v1/namespaces/ns/pods/p", "delete", "pods"},
		{"DELETE", "/api/v1/namespaces/ns/pods", "deletecollection", "pods"},
		{"GET", "/api/v1/namespaces/ns", "get", "namespaces"},
		{"GET", "/version", "get", "other"},
		{"GET", "/apis", "get", "other"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.url, func(t *testing.T) {
			t.Parallel()
			verb, resource := requestKind(httptest.NewRequest(tc.method, tc.url, nil))
			if verb != tc.verb || resource != tc.resource {
				t.Errorf("got (%s, %s), want (%s, %s)", verb, resource, tc.verb, tc.resource)
			}
		})
	}
}

type countingObserver map[string]int

func (c countingObserver) APIRequest(verb, resource string) { c[verb+" "+resource]++ }

// A request is counted once, whether or not it succeeds.
func TestCountingTransport(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	}))
	defer srv.Close()
	obs := countingObserver{}
	client := &http.Client{Transport: countRequests(obs)(http.DefaultTransport)}
	for range 2 {
		req, _ := http.NewRequest(http.MethodPatch, srv.URL+"/api/v1/namespaces/ns/pods/p/status", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if len(obs) != 1 || obs["patch pods/status"] != 2 {
		t.Errorf("counted %v, want patch pods/status twice", obs)
	}
}
