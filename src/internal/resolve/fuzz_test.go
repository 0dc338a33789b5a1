package resolve

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// FuzzNADConfig feeds hostile spec.config values (deep nesting, huge
// strings, odd types) through NAD resolution with injected fields: no
// input may crash the resolver, an input over the size bound is refused
// as such, and an accepted one yields a delegate whose executed config is
// a JSON object with a type (or typed plugins) and the NAD's name.
func FuzzNADConfig(f *testing.F) {
	for _, seed := range []string{
		`{"cniVersion":"1.0.0","type":"bridge"}`,
		`{"cniVersion":"1.0.0","plugins":[{"type":"bridge"},{"type":"tuning","args":{"cni":{"a":1}}}]}`,
		`{"type":["bridge"]}`, `{"type":null,"plugins":{}}`, `{"plugins":[null]}`, `[]`, `null`, `"x"`, `1e999`,
		`{"type":"bridge","name":123}`, `{"type":"bridge","args":"x"}`, `{"type":"bridge","args":{"cni":[1]}}`,
		`{"type":"multus-shim"}`, `{"type":"bridge","type":"multus"}`, `{"type":"\u0000"}`,
		strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
		`{"type":"bridge","pad":"` + strings.Repeat("é", 40000) + `"}`,
	} {
		f.Add(seed, `{"k":"v"}`)
	}
	limits := Limits{MaxNetworks: 4, MaxNADConfigBytes: 64 << 10}
	f.Fuzz(func(t *testing.T, config, cniArgs string) {
		nads := newFakeNADs(nad("team", "n", config, map[string]string{api.ResourceNameAnnotation: "r/x"}))
		ann := `[{"name":"n","interface":"net1","cni-args":` + cniArgs + `}]`
		// cni-args must be an object; any other value is an annotation
		// error found before the NAD is read, so the size bound below
		// would never be reached (annotation parsing has its own fuzz target).
		var args map[string]any
		if json.Unmarshal([]byte(cniArgs), &args) != nil || args == nil {
			ann = `[{"name":"n","interface":"net1"}]`
		}
		p := pod("team", "p", map[string]string{"k8s.v1.cni.cncf.io/networks": ann})
		r := New(Options{NADs: nads, Limits: limits, DeviceIDs: fakeDevices{"r/x": {"0000:00:01.0"}}})
		ds, err := r.Delegates(context.Background(), fuzzConf(t), p)
		if len(config) > limits.MaxNADConfigBytes {
			if !errors.Is(err, ErrLimit) {
				t.Fatalf("%d-byte config: err = %v, want ErrLimit", len(config), err)
			}
			return
		}
		if err != nil {
			if !strings.Contains(err.Error(), "pod team/p") {
				t.Fatalf("error does not name the pod: %v", err)
			}
			return
		}
		d := ds[len(ds)-1]
		if d.Name != "team/n" {
			t.Fatalf("delegate name %q", d.Name)
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(d.Bytes, &top); err != nil || top == nil {
			t.Fatalf("executed config is not a JSON object: %v: %q", err, d.Bytes)
		}
		if d.Type() == "" {
			t.Fatalf("accepted a delegate without a type: %q", d.Bytes)
		}
		if errors.Is(r.checkSelfCall(fuzzConf(t), d), ErrSelfCall) {
			t.Fatalf("accepted a self-calling delegate: %q", d.Bytes)
		}
	})
}

// fuzzConf is a Multus config whose cluster network is inline, so the
// fuzzer needs no files.
func fuzzConf(t *testing.T) *netconf.NetConf {
	conf, err := netconf.Load([]byte(`{"cniVersion":"1.0.0","name":"m","type":"multus-shim","delegates":[{"cniVersion":"1.0.0","name":"c","type":"bridge"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return conf
}
