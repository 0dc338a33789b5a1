package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cnitypes "github.com/containernetworking/cni/pkg/types"
	types040 "github.com/containernetworking/cni/pkg/types/040"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/testutil"
)

// fakeCNI records every call and answers with scripted results.
type fakeCNI struct {
	mu    sync.Mutex
	calls []fakeCall
	// err is returned by every method when set.
	err error
	// result is returned by Add/DelegateAdd.
	result cnitypes.Result
	// block, when set, makes every call wait for it to be closed (or ctx).
	block chan struct{}
	// started receives one value per call that has started.
	started chan struct{}
	// holdPastDeadline makes block ignore the request context, like a
	// backend stuck in a delegate.
	holdPastDeadline bool
}

type fakeCall struct {
	method string
	req    attach.Request
	attrs  *api.InterfaceAttributes
}

var _ CNI = (*fakeCNI)(nil)

func (f *fakeCNI) record(ctx context.Context, method string, req *attach.Request, attrs *api.InterfaceAttributes) error {
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{method: method, req: *req, attrs: attrs})
	f.mu.Unlock()
	if f.started != nil {
		f.started <- struct{}{}
	}
	if f.block != nil && f.holdPastDeadline {
		<-f.block
	} else if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return f.err
}

func (f *fakeCNI) lastCall(t *testing.T) fakeCall {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("backend was not called")
	}
	return f.calls[len(f.calls)-1]
}

func (f *fakeCNI) numCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeCNI) Add(ctx context.Context, req *attach.Request) (cnitypes.Result, error) {
	if err := f.record(ctx, "Add", req, nil); err != nil {
		return nil, err
	}
	return f.result, nil
}
func (f *fakeCNI) Del(ctx context.Context, req *attach.Request) error {
	return f.record(ctx, "Del", req, nil)
}
func (f *fakeCNI) Check(ctx context.Context, req *attach.Request) error {
	return f.record(ctx, "Check", req, nil)
}
func (f *fakeCNI) GC(ctx context.Context, req *attach.Request) error {
	return f.record(ctx, "GC", req, nil)
}
func (f *fakeCNI) Status(ctx context.Context, req *attach.Request) error {
	return f.record(ctx, "Status", req, nil)
}
func (f *fakeCNI) DelegateAdd(ctx context.Context, req *attach.Request, attrs *api.InterfaceAttributes) (cnitypes.Result, error) {
	if err := f.record(ctx, "DelegateAdd", req, attrs); err != nil {
		return nil, err
	}
	return f.result, nil
}
func (f *fakeCNI) DelegateDel(ctx context.Context, req *attach.Request, attrs *api.InterfaceAttributes) error {
	return f.record(ctx, "DelegateDel", req, attrs)
}
func (f *fakeCNI) DelegateCheck(ctx context.Context, req *attach.Request) error {
	return f.record(ctx, "DelegateCheck", req, nil)
}
func (f *fakeCNI) DelegateStatus(ctx context.Context, req *attach.Request) error {
	return f.record(ctx, "DelegateStatus", req, nil)
}

// fakeObserver records metrics calls.
type fakeObserver struct {
	mu       sync.Mutex
	requests []string // "handler method code"
	commands []string // "handler command ok|error"
	inFlight int
	maxIn    int
}

func (o *fakeObserver) RequestDone(handler, method string, code int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests = append(o.requests, strings.Join([]string{handler, method, http.StatusText(code)}, " "))
}

func (o *fakeObserver) CommandDone(handler, command string, _ time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	res := "ok"
	if err != nil {
		res = "error"
	}
	o.commands = append(o.commands, handler+" "+command+" "+res)
}

func (o *fakeObserver) InFlight(delta int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.inFlight += delta
	o.maxIn = max(o.maxIn, o.inFlight)
}

func sampleResult() cnitypes.Result {
	_, ipn, _ := net.ParseCIDR("10.1.2.3/24")
	ipn.IP = net.ParseIP("10.1.2.3")
	return &types040.Result{
		CNIVersion: "0.4.0",
		Interfaces: []*types040.Interface{{Name: "eth0", Mac: "aa:bb:cc:dd:ee:ff", Sandbox: "/var/run/netns/x"}},
		IPs:        []*types040.IPConfig{{Address: *ipn, Interface: types040.Int(0)}},
	}
}

type testServer struct {
	srv    *Server
	cni    *fakeCNI
	obs    *fakeObserver
	socket string
	http   *http.Client
	logs   *testutil.SyncBuffer
}

// startServer serves a Server with a fake backend on a temp unix socket.
func startServer(t *testing.T, mutate func(*Options)) *testServer {
	t.Helper()
	dir, err := os.MkdirTemp("", "mt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ts := &testServer{cni: &fakeCNI{result: sampleResult()}, obs: &fakeObserver{}, logs: &testutil.SyncBuffer{}}
	opts := Options{
		CNI:      ts.cni,
		Logger:   slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Observer: ts.obs,
	}
	if mutate != nil {
		mutate(&opts)
	}
	ts.srv, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	sockDir := filepath.Join(dir, "run")
	l, err := Listen(sockDir)
	if err != nil {
		t.Fatal(err)
	}
	ts.socket = api.SocketPath(sockDir)
	done := make(chan error, 1)
	go func() { done <- ts.srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if ts.cni.block != nil {
			select {
			case <-ts.cni.block:
			default:
				close(ts.cni.block)
			}
		}
		_ = ts.srv.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	ts.http = &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", ts.socket)
			},
		},
	}
	return ts
}

// do sends one raw HTTP request and returns status, Content-Type and body.
func (ts *testServer) do(t *testing.T, method, path string, body []byte) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, api.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), data
}

// cniRequest builds a request body.
func cniRequest(t *testing.T, env map[string]string, config string) []byte {
	t.Helper()
	body, err := json.Marshal(api.Request{Env: env, Config: []byte(config)})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

const podArgs = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p1;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1"

func addEnv() map[string]string {
	return map[string]string{
		"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "abc", "CNI_NETNS": "/var/run/netns/x",
		"CNI_IFNAME": "eth0", "CNI_ARGS": podArgs, "CNI_PATH": "/opt/cni/bin",
	}
}

const multusConf = `{"cniVersion":"0.3.1","name":"multus-cni-network","type":"multus-shim","clusterNetwork":"/etc/cni/net.d/10-bridge.conflist"}`

func decodeCNIError(t *testing.T, body []byte) cnitypes.Error {
	t.Helper()
	var e cnitypes.Error
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("body %q is not a CNI error: %v", body, err)
	}
	return e
}
