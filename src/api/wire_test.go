package api_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/multus-thick/multus-thick/fixtures"
	"github.com/multus-thick/multus-thick/src/api"
)

// Both directions of the codec against upstream-shaped bodies: what
// upstream's shim sends must decode into our Request, and what we encode
// must carry the same JSON document (key for key) back.
func TestRequestCodecMatchesUpstream(t *testing.T) {
	cases := []struct {
		fixture     string
		wantCommand string
		wantConfig  string // a substring of the decoded config
		wantAttrs   bool
	}{
		{"wire/add-request-upstream.json", "ADD", `"type":"multus-shim"`, false},
		{"wire/del-request-upstream.json", "DEL", `"clusterNetwork":`, false},
		{"wire/status-request-upstream.json", "STATUS", `"cniVersion":"1.1.0"`, false},
		{"wire/delegate-add-request-upstream.json", "ADD", `"type":"macvlan"`, true},
	}
	for _, tc := range cases {
		t.Run(tc.fixture, func(t *testing.T) {
			raw := fixtures.MustRead(tc.fixture)
			var req api.Request
			if err := json.Unmarshal(raw, &req); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got := req.Env[api.EnvCommand]; got != tc.wantCommand {
				t.Errorf("CNI_COMMAND = %q, want %q", got, tc.wantCommand)
			}
			if !bytes.Contains(req.Config, []byte(tc.wantConfig)) {
				t.Errorf("config %s does not contain %s", req.Config, tc.wantConfig)
			}
			if (req.InterfaceAttributes != nil) != tc.wantAttrs {
				t.Errorf("interfaceAttributes present = %v, want %v", req.InterfaceAttributes != nil, tc.wantAttrs)
			}
			encoded, err := json.Marshal(&req)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			assertSameJSON(t, raw, encoded)
		})
	}
}

func TestDelegateAttributesEmitNullCNIArgs(t *testing.T) {
	out, err := json.Marshal(api.Request{InterfaceAttributes: &api.InterfaceAttributes{MacRequest: "0a:58:0a:01:01:05"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"interfaceAttributes":{"mac":"0a:58:0a:01:01:05","cni-args":null}}`
	if string(out) != want {
		t.Errorf("got %s, want %s", out, want)
	}
}

func TestResponseKeyIsCapitalResult(t *testing.T) {
	raw := fixtures.MustRead("wire/add-response-upstream.json")
	var resp api.Response
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(resp.Result, []byte(`"10.244.1.5/24"`)) {
		t.Fatalf("Result not decoded: %s", resp.Result)
	}
	encoded, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	assertSameJSON(t, raw, encoded)
	empty, _ := json.Marshal(api.Response{})
	if string(empty) != `{}` {
		t.Errorf("empty response = %s, want {}", empty)
	}
}

func TestSocketPath(t *testing.T) {
	cases := map[string]string{
		"":                  "/run/multus/multus.sock",
		"/host/run/multus/": "/host/run/multus/multus.sock",
		"/tmp/mt1":          "/tmp/mt1/multus.sock",
	}
	for dir, want := range cases {
		if got := api.SocketPath(dir); got != want {
			t.Errorf("SocketPath(%q) = %q, want %q", dir, got, want)
		}
	}
}

func assertSameJSON(t *testing.T, a, b []byte) {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(x, y) {
		t.Errorf("JSON differs:\n got  %s\n want %s", b, a)
	}
}
