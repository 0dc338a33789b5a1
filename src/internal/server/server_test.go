package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	cnitypes "github.com/containernetworking/cni/pkg/types"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/logx"
)

func TestEndpointsAndMethods(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	tests := []struct {
		name     string
		method   string
		path     string
		wantCode int
		wantBody string
	}{
		{"healthz GET", http.MethodGet, "/healthz", 200, ""},
		{"healthz POST", http.MethodPost, "/healthz", 200, ""},
		{"healthz PUT", http.MethodPut, "/healthz", 405, "Method not allowed\n"},
		{"readyz GET", http.MethodGet, "/readyz", 200, ""},
		{"readyz POST", http.MethodPost, "/readyz", 200, ""},
		{"readyz DELETE", http.MethodDelete, "/readyz", 405, "Method not allowed\n"},
		{"cni GET", http.MethodGet, "/cni", 405, "Method not allowed\n"},
		{"delegate PUT", http.MethodPut, "/delegate", 405, "Method not allowed\n"},
		{"unknown path", http.MethodPost, "/nope", 404, ""},
		{"root", http.MethodGet, "/", 404, ""},
		{"cni subpath", http.MethodPost, "/cni/x", 404, ""},
		{"versioned path", http.MethodPost, "/v1/cni", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := ts.do(t, tc.method, tc.path, []byte("null"))
			if code != tc.wantCode || string(body) != tc.wantBody {
				t.Errorf("%s %s = %d %q, want %d %q", tc.method, tc.path, code, body, tc.wantCode, tc.wantBody)
			}
		})
	}
	if n := ts.cni.numCalls(); n != 0 {
		t.Errorf("backend called %d times by probes and bad methods", n)
	}
	ts.obs.mu.Lock()
	defer ts.obs.mu.Unlock()
	want := map[string]bool{"/healthz GET OK": true, "NotFound POST Not Found": true, "/cni GET Method Not Allowed": true}
	for _, r := range ts.obs.requests {
		delete(want, r)
	}
	if len(want) != 0 {
		t.Errorf("requests not observed: %v (got %v)", want, ts.obs.requests)
	}
}

func TestAddAnswersResultInVersion100WithContentType(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	code, ctype, body := ts.do(t, http.MethodPost, api.PathCNI, cniRequest(t, addEnv(), multusConf))
	if code != 200 {
		t.Fatalf("code %d body %s", code, body)
	}
	if ctype != "application/json" {
		t.Errorf("Content-Type = %q", ctype)
	}
	var resp struct {
		Result map[string]any `json:"Result"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Result["cniVersion"] != "1.0.0" {
		t.Errorf("result version = %v, want 1.0.0 (body %s)", resp.Result["cniVersion"], body)
	}
	if !bytes.HasPrefix(body, []byte(`{"Result":`)) {
		t.Errorf("body does not use the capital-R Result key: %s", body)
	}
	call := ts.cni.lastCall(t)
	if call.method != "Add" || call.req.ContainerID != "abc" || call.req.Netns != "/var/run/netns/x" ||
		call.req.IfName != "eth0" || call.req.CNIArgs != podArgs || call.req.Logger == nil {
		t.Errorf("request = %+v", call.req)
	}
	if p := call.req.Pod; p.Namespace != "default" || p.Name != "p1" || p.UID != "u-1" || p.SandboxID != "abc" {
		t.Errorf("pod = %+v", p)
	}
}

func TestCommandsDispatch(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	tests := []struct {
		endpoint, command, wantMethod string
	}{
		{api.PathCNI, "ADD", "Add"},
		{api.PathCNI, "DEL", "Del"},
		{api.PathCNI, "CHECK", "Check"},
		{api.PathCNI, "GC", "GC"},
		{api.PathCNI, "STATUS", "Status"},
		{api.PathCNI, "del", "Del"},
		{api.PathDelegate, "ADD", "DelegateAdd"},
		{api.PathDelegate, "DEL", "DelegateDel"},
		{api.PathDelegate, "CHECK", "DelegateCheck"},
		{api.PathDelegate, "STATUS", "DelegateStatus"},
	}
	for _, tc := range tests {
		t.Run(tc.endpoint+" "+tc.command, func(t *testing.T) {
			env := addEnv()
			env["CNI_COMMAND"] = tc.command
			code, _, body := ts.do(t, http.MethodPost, tc.endpoint, cniRequest(t, env, multusConf))
			if code != 200 {
				t.Fatalf("code %d body %s", code, body)
			}
			if got := ts.cni.lastCall(t).method; got != tc.wantMethod {
				t.Errorf("called %s, want %s", got, tc.wantMethod)
			}
			if strings.ToUpper(tc.command) != "ADD" && len(body) != 0 {
				t.Errorf("non-ADD body = %q, want empty", body)
			}
		})
	}
}

func TestStatusAndGCNeedNoPod(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	for _, cmd := range []string{"STATUS", "GC"} {
		t.Run(cmd, func(t *testing.T) {
			env := map[string]string{"CNI_COMMAND": cmd}
			code, _, body := ts.do(t, http.MethodPost, api.PathCNI, cniRequest(t, env, multusConf))
			if code != 200 {
				t.Fatalf("code %d body %s", code, body)
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	without := func(key string) map[string]string {
		env := addEnv()
		delete(env, key)
		return env
	}
	with := func(key, value string) map[string]string {
		env := addEnv()
		env[key] = value
		return env
	}
	tests := []struct {
		name     string
		endpoint string
		body     []byte
		wantCode uint
		wantMsg  []string
	}{
		{"not JSON", api.PathCNI, []byte("{nope"), 6, []string{"decode request body"}},
		{"wrong JSON shape", api.PathCNI, []byte(`{"env":"x"}`), 6, []string{"decode request body"}},
		{"config not base64", api.PathCNI, []byte(`{"env":{"CNI_COMMAND":"ADD"},"config":"%%%"}`), 6, []string{"decode request body"}},
		{"null body", api.PathCNI, []byte("null"), 4, []string{"missing CNI_COMMAND"}},
		{"empty body", api.PathCNI, nil, 6, []string{"decode request body"}},
		{"missing command", api.PathCNI, cniRequest(t, without("CNI_COMMAND"), multusConf), 4, []string{"missing CNI_COMMAND"}},
		{"unknown command", api.PathCNI, cniRequest(t, with("CNI_COMMAND", "FROB"), multusConf), 4, []string{`unknown CNI_COMMAND "FROB"`}},
		{"VERSION never reaches the daemon", api.PathCNI, cniRequest(t, with("CNI_COMMAND", "VERSION"), multusConf), 4, []string{`"VERSION"`}},
		{"GC on delegate", api.PathDelegate, cniRequest(t, with("CNI_COMMAND", "GC"), multusConf), 4, []string{"GC", "/delegate"}},
		{"missing container id", api.PathCNI, cniRequest(t, without("CNI_CONTAINERID"), multusConf), 4, []string{"missing CNI_CONTAINERID"}},
		{"missing netns", api.PathCNI, cniRequest(t, without("CNI_NETNS"), multusConf), 4, []string{"missing CNI_NETNS"}},
		{"missing args", api.PathCNI, cniRequest(t, without("CNI_ARGS"), multusConf), 4, []string{"missing CNI_ARGS"}},
		{"delegate STATUS needs args", api.PathDelegate, cniRequest(t, map[string]string{"CNI_COMMAND": "STATUS"}, multusConf), 4, []string{"missing CNI_CONTAINERID"}},
		{"missing namespace", api.PathCNI, cniRequest(t, with("CNI_ARGS", "K8S_POD_NAME=p"), multusConf), 4, []string{"missing K8S_POD_NAMESPACE"}},
		{"missing name", api.PathCNI, cniRequest(t, with("CNI_ARGS", "K8S_POD_NAMESPACE=ns"), multusConf), 4, []string{"missing K8S_POD_NAME"}},
		{"args element without =", api.PathCNI, cniRequest(t, with("CNI_ARGS", "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;junk"), multusConf), 4, []string{`"junk"`}},
		{"empty config", api.PathCNI, cniRequest(t, addEnv(), ""), 6, []string{"empty config"}},
		{"config not an object", api.PathCNI, cniRequest(t, addEnv(), `[1]`), 6, []string{"not a JSON object"}},
		{"config null", api.PathCNI, cniRequest(t, addEnv(), `null`), 6, []string{"not a JSON object"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, ctype, body := ts.do(t, http.MethodPost, tc.endpoint, tc.body)
			if code != 400 || ctype != "application/json" {
				t.Fatalf("code %d type %q body %s", code, ctype, body)
			}
			e := decodeCNIError(t, body)
			if e.Code != tc.wantCode {
				t.Errorf("code %d, want %d (%s)", e.Code, tc.wantCode, e.Msg)
			}
			for _, w := range tc.wantMsg {
				if !strings.Contains(e.Msg, w) {
					t.Errorf("msg %q does not name %q", e.Msg, w)
				}
			}
		})
	}
	if n := ts.cni.numCalls(); n != 0 {
		t.Errorf("backend called %d times for bad requests", n)
	}
}

func TestArgsValueWithEqualsAndDefaultIfName(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	env := addEnv()
	delete(env, "CNI_IFNAME")
	env["CNI_ARGS"] = "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;MY_ARG=a=b=c"
	code, _, body := ts.do(t, http.MethodPost, api.PathCNI, cniRequest(t, env, multusConf))
	if code != 200 {
		t.Fatalf("code %d body %s", code, body)
	}
	req := ts.cni.lastCall(t).req
	if req.IfName != "eth0" || req.Pod.Namespace != "ns" || req.Pod.Name != "p" || req.CNIArgs != env["CNI_ARGS"] {
		t.Errorf("request = %+v", req)
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(o *Options) { o.MaxBodyBytes = 1024 })
	big := cniRequest(t, addEnv(), `{"pad":"`+strings.Repeat("x", 4096)+`","type":"x"}`)
	code, _, body := ts.do(t, http.MethodPost, api.PathCNI, big)
	if code != 400 {
		t.Fatalf("code %d", code)
	}
	if e := decodeCNIError(t, body); !strings.Contains(e.Msg, "1024-byte limit") {
		t.Errorf("msg %q does not name the limit", e.Msg)
	}
	if ts.cni.numCalls() != 0 {
		t.Error("backend called")
	}
}

func TestErrorsKeepCNICode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		err         error
		wantCode    uint
		wantMsg     []string
		wantDetails string
	}{
		{name: "delegate code and details kept through wrapping",
			err:      fmt.Errorf("delegate type=macvlan name=net1: add: %w", &cnitypes.Error{Code: 102, Msg: "no master", Details: "eth9"}),
			wantCode: 102, wantMsg: []string{"ADD pod default/p1", `container "abc"`, "delegate type=macvlan name=net1: add: no master"},
			wantDetails: "eth9"},
		{name: "plain error is internal", err: errors.New("disk full"), wantCode: 999, wantMsg: []string{"disk full"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, nil)
			ts.cni.err = tc.err
			code, ctype, body := ts.do(t, http.MethodPost, api.PathCNI, cniRequest(t, addEnv(), multusConf))
			if code != 400 || ctype != "application/json" {
				t.Fatalf("code %d type %q", code, ctype)
			}
			e := decodeCNIError(t, body)
			if e.Code != tc.wantCode || e.Details != tc.wantDetails {
				t.Errorf("error = %+v", e)
			}
			for _, w := range tc.wantMsg {
				if !strings.Contains(e.Msg, w) {
					t.Errorf("msg %q lacks %q", e.Msg, w)
				}
			}
			if strings.Contains(e.Msg, "; eth9") {
				t.Errorf("details repeated in msg: %q", e.Msg)
			}
		})
	}
}

func TestConfigOverride(t *testing.T) {
	t.Parallel()
	override := map[string]json.RawMessage{
		"cniVersion": json.RawMessage(`"1.0.0"`),
		"binDir":     json.RawMessage(`"/host/opt/cni/bin"`),
		"socketDir":  json.RawMessage(`"/host/run/multus/"`),
	}
	ts := startServer(t, func(o *Options) { o.Override = override })

	code, _, body := ts.do(t, http.MethodPost, api.PathCNI,
		cniRequest(t, addEnv(), `{"cniVersion":"0.3.1","name":"n","type":"multus-shim","binDir":"/opt/cni/bin","keep":1}`))
	if code != 200 {
		t.Fatalf("code %d body %s", code, body)
	}
	var got map[string]any
	if err := json.Unmarshal(ts.cni.lastCall(t).req.Config, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"cniVersion": "1.0.0", "name": "n", "type": "multus-shim", "binDir": "/host/opt/cni/bin",
		"socketDir": "/host/run/multus/", "keep": float64(1)}
	if !maps.Equal(got, want) {
		t.Errorf("/cni config = %v, want %v", got, want)
	}

	// /delegate: the caller's delegate config reaches the backend as sent.
	delegateConf := `{"cniVersion":"0.3.1","name":"macvlan-net","type":"macvlan","master":"eth0"}`
	code, _, body = ts.do(t, http.MethodPost, api.PathDelegate, cniRequest(t, addEnv(), delegateConf))
	if code != 200 {
		t.Fatalf("code %d body %s", code, body)
	}
	if got := string(ts.cni.lastCall(t).req.Config); got != delegateConf {
		t.Errorf("/delegate config = %s, want it unmerged", got)
	}
}

func TestDelegateAttributesPassed(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	args := map[string]any{"foo": "bar"}
	body, _ := json.Marshal(api.Request{Env: addEnv(), Config: []byte(`{"type":"macvlan"}`),
		InterfaceAttributes: &api.InterfaceAttributes{IPRequest: []string{"10.0.0.5/24"}, MacRequest: "aa:bb:cc:dd:ee:01", CNIArgs: &args}})
	code, _, resp := ts.do(t, http.MethodPost, api.PathDelegate, body)
	if code != 200 {
		t.Fatalf("code %d body %s", code, resp)
	}
	a := ts.cni.lastCall(t).attrs
	if a == nil || a.MacRequest != "aa:bb:cc:dd:ee:01" || len(a.IPRequest) != 1 || (*a.CNIArgs)["foo"] != "bar" {
		t.Errorf("attrs = %+v", a)
	}
}

func TestReadyzDuringShutdown(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	if code, _, _ := ts.do(t, http.MethodPost, api.PathReadyz, nil); code != 200 {
		t.Fatalf("readyz before shutdown = %d", code)
	}
	ts.srv.SetShuttingDown()
	tests := []struct {
		path string
		want int
	}{{api.PathReadyz, 500}, {api.PathHealthz, 200}}
	for _, tc := range tests {
		if code, _, body := ts.do(t, http.MethodGet, tc.path, nil); code != tc.want || len(body) != 0 {
			t.Errorf("%s = %d %q, want %d", tc.path, code, body, tc.want)
		}
	}
	// DEL still works while shutting down (the shim gates it on /healthz).
	env := addEnv()
	env["CNI_COMMAND"] = "DEL"
	if code, _, body := ts.do(t, http.MethodPost, api.PathCNI, cniRequest(t, env, multusConf)); code != 200 {
		t.Errorf("DEL while shutting down = %d %s", code, body)
	}
}

func TestShutdownDrainsInFlight(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	ts.cni.block = make(chan struct{})
	ts.cni.started = make(chan struct{}, 1)
	type answer struct {
		code int
		body []byte
	}
	got := make(chan answer, 1)
	go func() {
		code, _, body := ts.do(t, http.MethodPost, api.PathCNI, cniRequest(t, addEnv(), multusConf))
		got <- answer{code, body}
	}()
	<-ts.cni.started
	shutdownDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutdownDone <- ts.srv.Shutdown(ctx)
	}()
	select {
	case <-shutdownDone:
		t.Fatal("Shutdown returned while a request was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(ts.cni.block)
	if err := <-shutdownDone; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if a := <-got; a.code != 200 {
		t.Errorf("in-flight ADD = %d %s, want it completed", a.code, a.body)
	}
}

func TestConnectionLimitNeverBlocksProbes(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(o *Options) {
		o.ConnectionLimit = 1
		o.RequestTimeout = 300 * time.Millisecond
	})
	ts.cni.block = make(chan struct{})
	ts.cni.holdPastDeadline = true
	ts.cni.started = make(chan struct{}, 4)
	var wg sync.WaitGroup
	wg.Add(1)
	var firstCode int
	go func() {
		defer wg.Done()
		firstCode, _, _ = ts.do(t, http.MethodPost, api.PathCNI, cniRequest(t, addEnv(), multusConf))
	}()
	<-ts.cni.started // the only slot is taken

	for _, p := range []string{api.PathHealthz, api.PathReadyz} {
		if code, _, _ := ts.do(t, http.MethodPost, p, []byte("null")); code != 200 {
			t.Errorf("%s = %d while the slot is full", p, code)
		}
	}
	// A second command waits for a slot, then gives up at its deadline.
	code, _, body := ts.do(t, http.MethodPost, api.PathCNI, cniRequest(t, addEnv(), multusConf))
	if code != 400 {
		t.Fatalf("second command = %d %s", code, body)
	}
	if e := decodeCNIError(t, body); e.Code != cnitypes.ErrTryAgainLater || !strings.Contains(e.Msg, "connectionLimit") {
		t.Errorf("error = %+v", e)
	}
	if ts.cni.numCalls() != 1 {
		t.Errorf("backend calls = %d, want 1", ts.cni.numCalls())
	}
	close(ts.cni.block)
	wg.Wait()
	if firstCode != 200 {
		t.Errorf("first command = %d", firstCode)
	}
	ts.obs.mu.Lock()
	defer ts.obs.mu.Unlock()
	if ts.obs.maxIn != 1 || ts.obs.inFlight != 0 {
		t.Errorf("in flight max %d now %d", ts.obs.maxIn, ts.obs.inFlight)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	tests := []struct {
		name string
		opts Options
	}{
		{"no backend", Options{Logger: ts.srv.opts.Logger}},
		{"no logger", Options{CNI: ts.cni}},
		{"negative limit", Options{CNI: ts.cni, Logger: ts.srv.opts.Logger, ConnectionLimit: -1}},
	}
	for _, tc := range tests {
		if _, err := New(tc.opts); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// A failed command is logged once, here, with what the lower layers
// attached to the error; the answer to the runtime is unchanged by them.
func TestFailedCommandLoggedOnceWithLowerLayersAttrs(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	cause := fmt.Errorf("delegate type=macvlan name=net1: add: %w", &cnitypes.Error{Code: 11, Msg: "no free IP"})
	ts.cni.err = logx.WithAttrs(cause, "rolledBack", 2, "cacheKept", "/var/lib/cni/multus/abc")
	code, _, body := ts.do(t, http.MethodPost, api.PathCNI, cniRequest(t, addEnv(), multusConf))
	if code != 400 {
		t.Fatalf("code %d body %s", code, body)
	}
	if e := decodeCNIError(t, body); e.Code != 11 || strings.Contains(e.Msg, "rolledBack") {
		t.Errorf("answer = %+v, want code 11 and no attributes in the message", e)
	}
	var failed []string
	for _, line := range strings.Split(ts.logs.String(), "\n") {
		if strings.Contains(line, "command failed") {
			failed = append(failed, line)
		}
	}
	if len(failed) != 1 {
		t.Fatalf("want one \"command failed\" line, got %d:\n%s", len(failed), ts.logs.String())
	}
	for _, w := range []string{`err="delegate type=macvlan name=net1: add: no free IP"`, "rolledBack=2", "cacheKept=/var/lib/cni/multus/abc", "containerID=abc"} {
		if !strings.Contains(failed[0], w) {
			t.Errorf("log line lacks %s:\n%s", w, failed[0])
		}
	}
}
