package server

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multus-thick/multus-thick/src/api"
)

// fakeSelfCalls says that process pid is inside a delegate call of
// container id; it records what it was asked.
type fakeSelfCalls struct {
	pid int
	id  string
	mu  sync.Mutex
	ask []string
}

func (f *fakeSelfCalls) InDelegateOf(pid int, containerID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ask = append(f.ask, fmt.Sprintf("%d/%s", pid, containerID))
	return pid == f.pid && containerID == f.id
}

// TestSelfCallRefused: the test process is the peer of its own requests;
// the detector says it is inside a delegate call of container "abc". Such
// a request is refused with a CNI error before any slot is taken (the only
// slot is held by another request), and the backend is never called.
func TestSelfCallRefused(t *testing.T) {
	t.Parallel()
	det := &fakeSelfCalls{pid: os.Getpid(), id: "abc"}
	ts := startServer(t, func(o *Options) {
		o.SelfCalls = det
		o.ConnectionLimit = 1
	})
	ts.cni.block = make(chan struct{})
	ts.cni.started = make(chan struct{}, 4)
	// Hold the one slot with a request of another container.
	other := addEnv()
	other["CNI_CONTAINERID"] = "busy"
	held := make(chan int, 1)
	go func() {
		code, _, _ := ts.do(t, http.MethodPost, api.PathCNI, cniRequest(t, other, multusConf))
		held <- code
	}()
	<-ts.cni.started

	for _, endpoint := range []string{api.PathCNI, api.PathDelegate} {
		for _, cmd := range []string{"ADD", "DEL"} {
			env := addEnv()
			env["CNI_COMMAND"] = cmd
			code, _, body := ts.do(t, http.MethodPost, endpoint, cniRequest(t, env, multusConf))
			e := decodeCNIError(t, body)
			if code != 400 || e.Code != 7 || !strings.Contains(e.Msg, "inside a delegate call of the same container") ||
				!strings.Contains(e.Msg, "pod default/p1") {
				t.Errorf("%s %s: %d %+v, want a code 7 refusal naming the pod", endpoint, cmd, code, e)
			}
		}
	}
	if n := ts.cni.numCalls(); n != 1 {
		t.Errorf("backend called %d times, want only the held request", n)
	}
	close(ts.cni.block)
	if code := <-held; code != 200 {
		t.Errorf("held request: %d", code)
	}
	// Another container from the same process is not a self-call.
	env := addEnv()
	env["CNI_CONTAINERID"] = "xyz"
	if code, _, body := ts.do(t, http.MethodPost, api.PathCNI, cniRequest(t, env, multusConf)); code != 200 {
		t.Errorf("another container refused: %d %s", code, body)
	}
	det.mu.Lock()
	defer det.mu.Unlock()
	if len(det.ask) == 0 || !strings.HasPrefix(det.ask[0], fmt.Sprint(os.Getpid())+"/") {
		t.Errorf("detector not asked with the peer PID: %v", det.ask)
	}
}

// TestTrickledBodyCutOff: a client that sends the header and then the
// body slower than BodyTimeout gets a CNI error naming the key, and the
// backend is not called.
func TestTrickledBodyCutOff(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(o *Options) { o.BodyTimeout = 200 * time.Millisecond })
	body := cniRequest(t, addEnv(), multusConf)
	conn, err := net.Dial("unix", ts.socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The whole test is bounded; the server must answer well before.
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: multus\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", api.PathCNI, len(body))
	if _, err := conn.Write(body[:10]); err != nil {
		t.Fatal(err)
	}
	// ... and nothing more: the rest never comes.
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a trickled body: %v\n%s", err, ts.logs.String())
	}
	defer resp.Body.Close()
	var buf strings.Builder
	if _, err := bufio.NewReader(resp.Body).WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	e := decodeCNIError(t, []byte(buf.String()))
	if resp.StatusCode != 400 || !strings.Contains(e.Msg, "requestBodyTimeout") {
		t.Errorf("answer %d %+v, want 400 naming requestBodyTimeout", resp.StatusCode, e)
	}
	if ts.cni.numCalls() != 0 {
		t.Error("backend called")
	}
}

// TestBodyTimeoutAllowsNormalBodies: a whole body sent at once is read
// within any sane deadline; the deadline is cleared for the answer, which
// may take as long as the command does.
func TestBodyTimeoutAllowsNormalBodies(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(o *Options) { o.BodyTimeout = 500 * time.Millisecond })
	ts.cni.block = make(chan struct{})
	ts.cni.started = make(chan struct{}, 1)
	done := make(chan int, 1)
	go func() {
		code, _, _ := ts.do(t, http.MethodPost, api.PathCNI, cniRequest(t, addEnv(), multusConf))
		done <- code
	}()
	<-ts.cni.started
	// Outlive the body deadline inside the command.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	<-ctx.Done()
	cancel()
	close(ts.cni.block)
	if code := <-done; code != 200 {
		t.Errorf("code %d", code)
	}
}
