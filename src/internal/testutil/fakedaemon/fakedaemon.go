// Package fakedaemon serves a scripted multus daemon on a temporary unix
// socket, for tests of the shim side of the protocol. Responses are raw
// bytes, so tests can replay upstream's exact bodies.
package fakedaemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/multus-thick/multus-thick/src/api"
)

// Reply is what the fake answers on /cni and /delegate.
type Reply struct {
	Status      int
	Body        []byte
	ContentType string
}

// Daemon is a running fake.
type Daemon struct {
	Dir string // socket directory (pass as daemonSocketDir)

	mu       sync.Mutex
	ready    bool
	reply    Reply
	requests []api.Request
	paths    []string
}

// Start serves a fake daemon until the test ends. It is ready at once.
func Start(t testing.TB) *Daemon {
	t.Helper()
	// Short path: unix socket paths are limited to about 108 bytes.
	dir, err := os.MkdirTemp("", "mt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	d := &Daemon{Dir: dir, ready: true, reply: Reply{Status: http.StatusOK}}
	ln, err := net.Listen("unix", filepath.Join(dir, api.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: d, ReadHeaderTimeout: 5 * time.Second}
	srv.SetKeepAlivesEnabled(false)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("fake daemon shutdown: %v", err)
		}
	})
	return d
}

// SetReady makes /readyz answer 200 (true) or 500 (false).
func (d *Daemon) SetReady(ready bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ready = ready
}

// SetReply scripts the answer to /cni and /delegate.
func (d *Daemon) SetReply(r Reply) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reply = r
}

// Requests returns the decoded /cni and /delegate bodies received so far.
func (d *Daemon) Requests() []api.Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]api.Request(nil), d.requests...)
}

// Paths returns every path requested, probes included, in order.
func (d *Daemon) Paths() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.paths...)
}

func (d *Daemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	d.paths = append(d.paths, r.URL.Path)
	ready, reply := d.ready, d.reply
	d.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	switch r.URL.Path {
	case api.PathHealthz:
		w.WriteHeader(http.StatusOK)
	case api.PathReadyz:
		if ready {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusInternalServerError)
		}
	case api.PathCNI, api.PathDelegate:
		var req api.Request
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, "fake daemon: bad request: "+err.Error(), http.StatusBadRequest)
			return
		}
		d.mu.Lock()
		d.requests = append(d.requests, req)
		d.mu.Unlock()
		if reply.ContentType != "" {
			w.Header().Set("Content-Type", reply.ContentType)
		}
		w.WriteHeader(reply.Status)
		_, _ = w.Write(reply.Body)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}
