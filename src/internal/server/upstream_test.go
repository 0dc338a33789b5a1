package server

import (
	"net/http"
	"testing"

	"github.com/multus-thick/multus-thick/fixtures"
	"github.com/multus-thick/multus-thick/src/api"
)

// Requests exactly as upstream's shim and api.CreateDelegateRequest send
// them (whole environment, base64 config) are served.
func TestUpstreamShapedRequests(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	tests := []struct {
		fixture, endpoint, wantMethod, wantIfName, wantPod string
	}{
		{"wire/add-request-upstream.json", api.PathCNI, "Add", "eth0", "default/p"},
		{"wire/del-request-upstream.json", api.PathCNI, "Del", "eth0", "default/p"},
		{"wire/status-request-upstream.json", api.PathCNI, "Status", "", ""},
		{"wire/delegate-add-request-upstream.json", api.PathDelegate, "DelegateAdd", "net2", "default/p"},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			code, _, body := ts.do(t, http.MethodPost, tc.endpoint, fixtures.MustRead(tc.fixture))
			if code != 200 {
				t.Fatalf("code %d body %s", code, body)
			}
			call := ts.cni.lastCall(t)
			if call.method != tc.wantMethod {
				t.Errorf("called %s", call.method)
			}
			if tc.wantIfName != "" && call.req.IfName != tc.wantIfName {
				t.Errorf("ifname %q", call.req.IfName)
			}
			if pod := call.req.Pod.Namespace + "/" + call.req.Pod.Name; tc.wantPod != "" && pod != tc.wantPod {
				t.Errorf("pod %q", pod)
			}
			if tc.endpoint == api.PathDelegate && call.attrs == nil {
				t.Error("interfaceAttributes dropped")
			}
		})
	}
}
