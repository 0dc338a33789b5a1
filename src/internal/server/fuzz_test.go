package server

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/multus-thick/multus-thick/fixtures"
	"github.com/multus-thick/multus-thick/src/api"
)

// FuzzDecodeRequest: no body may crash the decoder, and an accepted body
// always yields a known command, an interface name and, where required, a
// pod.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`null`, `{}`, `{"env":{"CNI_COMMAND":"ADD"}}`,
		`{"env":{"CNI_COMMAND":"ADD","CNI_CONTAINERID":"c","CNI_NETNS":"/n","CNI_ARGS":"K8S_POD_NAMESPACE=a;K8S_POD_NAME=b=c"},"config":"e30="}`,
		`{"env":{"CNI_COMMAND":"STATUS"},"config":"e30="}`,
		`{"env":{"CNI_COMMAND":"DEL","CNI_CONTAINERID":"","CNI_NETNS":"","CNI_ARGS":";;="},"config":"e30="}`,
		`{"env":{"CNI_COMMAND":"ADD","CNI_CONTAINERID":"c","CNI_NETNS":"/n","CNI_ARGS":"K8S_POD_NAMESPACE=a;K8S_POD_NAME=b"},"config":"e30=","interfaceAttributes":{"ips":["1.2.3.4/24"],"cni-args":null}}`,
	} {
		f.Add([]byte(seed), false)
	}
	for _, name := range []string{"wire/add-request-upstream.json", "wire/del-request-upstream.json",
		"wire/delegate-add-request-upstream.json", "wire/status-request-upstream.json"} {
		if data, err := fixtures.Read(name); err == nil {
			f.Add(data, strings.Contains(name, "delegate"))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, delegate bool) {
		endpoint := api.PathCNI
		if delegate {
			endpoint = api.PathDelegate
		}
		inv, cerr := decodeRequest(body, endpoint)
		if cerr != nil {
			if inv != nil || cerr.Msg == "" || cerr.Code == 0 {
				t.Fatalf("bad failure: inv %v err %+v", inv, cerr)
			}
			return
		}
		if checkCommand(inv.Command, endpoint) != nil || inv.IfName == "" || len(inv.Config) == 0 {
			t.Fatalf("accepted invalid invocation %+v", inv)
		}
		needsPod := delegate || (inv.Command != cmdStatus && inv.Command != cmdGC)
		if needsPod && (inv.Pod.Namespace == "" || inv.Pod.Name == "") {
			t.Fatalf("accepted %s without a pod: %+v", inv.Command, inv)
		}
	})
}

// FuzzMergeConfig: the merge never crashes; on success the result is a JSON
// object holding every override key with the override's value and every
// other key of the request config unchanged.
func FuzzMergeConfig(f *testing.F) {
	f.Add([]byte(`{"cniVersion":"0.3.1","name":"multus-cni-network","type":"multus-shim"}`), []byte(`{"cniVersion":"1.0.0","binDir":"/opt/cni/bin"}`))
	f.Add([]byte(`{"a":1,"A":2}`), []byte(`{"a":3}`))
	f.Add([]byte(`null`), []byte(`{}`))
	f.Add([]byte(`{"x":{"nested":[1,2]}}`), []byte(`null`))
	f.Add([]byte(`[]`), []byte(`{"k":"v"}`))
	if data, err := fixtures.Read("cni/daemon-config-upstream.json"); err == nil {
		f.Add([]byte(`{"cniVersion":"0.3.1","clusterNetwork":"/x"}`), data)
	}
	f.Fuzz(func(t *testing.T, conf, overrideJSON []byte) {
		var override map[string]json.RawMessage
		if json.Unmarshal(overrideJSON, &override) != nil {
			return
		}
		out, err := MergeConfig(conf, override)
		if err != nil {
			return
		}
		var merged map[string]json.RawMessage
		if err := json.Unmarshal(out, &merged); err != nil || merged == nil {
			t.Fatalf("merge result %q is not a JSON object: %v", out, err)
		}
		for k, v := range override {
			if !jsonEqual(merged[k], v) {
				t.Fatalf("key %q = %s, want override %s", k, merged[k], v)
			}
		}
		var orig map[string]json.RawMessage
		_ = json.Unmarshal(conf, &orig)
		for k, v := range orig {
			shadowed := false
			for ok := range override {
				if strings.EqualFold(k, ok) {
					shadowed = true
				}
			}
			if !shadowed && !jsonEqual(merged[k], v) {
				t.Fatalf("key %q = %s, want the request's %s", k, merged[k], v)
			}
		}
	})
}

func jsonEqual(a, b json.RawMessage) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}
