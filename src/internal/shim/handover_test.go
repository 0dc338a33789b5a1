package shim_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/multus-thick/multus-thick/src/api"
)

// handover is a daemon socket whose first daemon misbehaves once in a
// scripted way (the drain ending between the shim's probe and its call);
// the next daemon then takes the same path and answers 200.
type handover struct {
	dir   string
	mu    sync.Mutex
	calls int // /cni requests received, by either daemon
}

func (h *handover) serve(t *testing.T, l net.Listener, handler http.HandlerFunc) {
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	srv.SetKeepAlivesEnabled(false)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
}

func (h *handover) listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(h.dir, api.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The daemon goes away between probe and call: either its listener closes
// right after the probe (the call cannot connect), or it drops the call's
// connection without an answer. Only what surely never reached a daemon
// is sent again for ADD; DEL (idempotent) is sent again either way.
func TestDaemonGoneBetweenProbeAndCall(t *testing.T) {
	tests := []struct {
		name      string
		cmd       string
		drop      bool // drop the call's connection instead of closing the listener
		wantExit  int
		wantCalls int
	}{
		{"ADD, listener closed after the probe", "ADD", false, 0, 1},
		{"STATUS, listener closed after the probe", "STATUS", false, 0, 1},
		{"DEL, listener closed after the probe", "DEL", false, 0, 1},
		{"DEL, call dropped", "DEL", true, 0, 2},
		{"ADD, call dropped: not sent twice", "ADD", true, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := os.MkdirTemp("", "mt")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.RemoveAll(dir) })
			h := &handover{dir: dir}
			first := h.listen(t)
			next := make(chan struct{})
			var once sync.Once
			startNext := func() {
				once.Do(func() {
					go func() {
						time.Sleep(100 * time.Millisecond)
						l, err := net.Listen("unix", filepath.Join(dir, api.SocketName))
						if err != nil {
							t.Error(err)
							return
						}
						h.serve(t, l, h.answer)
						close(next)
					}()
				})
			}
			h.serve(t, first, func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.URL.Path == api.PathCNI && tc.drop:
					h.count()
					_ = first.Close() // removes the socket, before the shim can retry
					startNext()
					conn, _, err := w.(http.Hijacker).Hijack()
					if err == nil {
						_ = conn.Close()
					}
				case r.URL.Path != api.PathCNI && !tc.drop:
					// Answer the probe, but the listener is gone before
					// the shim dials again.
					_ = first.Close()
					startNext()
					w.WriteHeader(http.StatusOK)
				default:
					h.answer(w, r)
				}
			})
			stdin := conf("1.0.0", dir, `,"reportDelErrors":true,"shimReadinessTimeout":"5s"`)
			if tc.cmd == "ADD" {
				stdin = conf("1.0.0", dir, `,"shimReadinessTimeout":"5s"`)
			}
			out := invoke(t, addEnv(tc.cmd), stdin)
			if out.code != tc.wantExit {
				t.Errorf("exit %d, want %d; stdout %s stderr %s", out.code, tc.wantExit, out.stdout, out.stderr)
			}
			select { // the next daemon is up before the test ends
			case <-next:
			case <-time.After(5 * time.Second):
				t.Fatal("the next daemon never started")
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.calls != tc.wantCalls {
				t.Errorf("/cni requests = %d, want %d", h.calls, tc.wantCalls)
			}
		})
	}
}

func (h *handover) count() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
}

// answer is a healthy daemon: probes 200, and an ADD gets a minimal result.
func (h *handover) answer(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != api.PathCNI {
		w.WriteHeader(http.StatusOK)
		return
	}
	h.count()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`{"Result":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0"}],"ips":[{"address":"10.1.1.2/24","interface":0}]}}`))
}
