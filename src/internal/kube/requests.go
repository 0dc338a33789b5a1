package kube

import (
	"net/http"
	"strings"
)

// RequestObserver counts the daemon's requests to the API server
// (metrics.Metrics implements it).
type RequestObserver interface {
	// APIRequest counts one request: verb is the Kubernetes verb (get,
	// list, watch, create, update, patch, delete, deletecollection),
	// resource the resource with its subresource ("pods/status").
	APIRequest(verb, resource string)
}

// countingTransport counts every request it forwards, before it is sent:
// a request that fails still cost the API server (or tried to).
type countingTransport struct {
	next http.RoundTripper
	obs  RequestObserver
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	verb, resource := requestKind(req)
	t.obs.APIRequest(verb, resource)
	return t.next.RoundTrip(req)
}

// countRequests is a rest.Config WrapTransport.
func countRequests(obs RequestObserver) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper { return countingTransport{next: next, obs: obs} }
}

// requestKind names a request as the API server's audit log does, from
// its method and path: /api/v1/namespaces/ns/pods/name/status is (patch,
// pods/status) for a PATCH. Paths outside the resource API (discovery,
// /version) are "other"; the counter stays bounded whatever is asked.
func requestKind(req *http.Request) (verb, resource string) {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	// Strip the group and version: /api/v1 or /apis/<group>/<version>.
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return strings.ToLower(req.Method), "other"
	}
	// Namespaced: namespaces/<ns>/<resource>...; a bare namespaces/<ns>
	// is the namespace object itself.
	if len(parts) >= 3 && parts[0] == "namespaces" {
		parts = parts[2:]
	}
	if len(parts) == 0 {
		return strings.ToLower(req.Method), "other"
	}
	resource, named := parts[0], len(parts) >= 2
	if len(parts) >= 3 {
		resource += "/" + parts[2]
	}
	return verbOf(req, named), resource
}

func verbOf(req *http.Request, named bool) string {
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case req.URL.Query().Get("watch") == "true" || req.URL.Query().Get("watch") == "1":
			return "watch"
		case named:
			return "get"
		}
		return "list"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		if named {
			return "delete"
		}
		return "deletecollection"
	}
	return strings.ToLower(req.Method)
}
