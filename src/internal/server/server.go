// Package server is the daemon's HTTP server on its unix socket: the
// upstream-compatible endpoints /cni, /delegate, /healthz and /readyz,
// request decoding and validation, the daemon-config override of request
// configs, the concurrency cap and the error mapping to CNI error objects.
// The CNI work itself is behind the small CNI interface (package attach).
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	cnitypes "github.com/containernetworking/cni/pkg/types"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/readiness"
)

// CNI is what the server needs from the node core (*attach.Attacher).
type CNI interface {
	Add(ctx context.Context, req *attach.Request) (cnitypes.Result, error)
	Del(ctx context.Context, req *attach.Request) error
	Check(ctx context.Context, req *attach.Request) error
	GC(ctx context.Context, req *attach.Request) error
	Status(ctx context.Context, req *attach.Request) error
	DelegateAdd(ctx context.Context, req *attach.Request, attrs *api.InterfaceAttributes) (cnitypes.Result, error)
	DelegateDel(ctx context.Context, req *attach.Request, attrs *api.InterfaceAttributes) error
	DelegateCheck(ctx context.Context, req *attach.Request) error
	DelegateStatus(ctx context.Context, req *attach.Request) error
}

// Observer receives request metrics (package metrics implements it).
type Observer interface {
	// RequestDone is called once per HTTP request on any path.
	RequestDone(handler, method string, code int)
	// CommandDone is called once per /cni or /delegate command.
	CommandDone(handler, command string, d time.Duration, err error)
	// InFlight moves the count of commands being handled.
	InFlight(delta int)
}

// Defaults of Options.
const (
	DefaultRequestTimeout = 5 * time.Minute
	// DefaultMaxBodyBytes bounds a request body: a request is the runtime's
	// 00-multus.conf plus a few CNI variables, a few KiB; 1 MiB leaves
	// room for inline delegates while a full connectionLimit of bodies
	// stays far below a 512 MiB daemon.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultBodyTimeout bounds the reading of one body: the shim writes
	// it at once, so a body still arriving after this is trickled.
	DefaultBodyTimeout = 10 * time.Second
)

// Options configure a Server.
type Options struct {
	// CNI runs the commands; required.
	CNI CNI
	// Override holds the daemon-config keys copied over every /cni
	// request's config (§2.6); nil means none.
	Override map[string]json.RawMessage
	// Logger is the daemon's logger; required.
	Logger *slog.Logger
	// Observer, if set, receives metrics.
	Observer Observer
	// ConnectionLimit caps concurrent /cni and /delegate handlers
	// (upstream's connectionLimit key); 0 means no cap. Probes are never
	// counted, so a full daemon still answers /healthz and /readyz.
	ConnectionLimit int
	// RequestTimeout bounds each command, waiting for a slot included.
	RequestTimeout time.Duration
	// MaxBodyBytes bounds a request body (maxRequestBytes).
	MaxBodyBytes int64
	// Readiness is the readiness indicator file (daemon-config
	// readinessindicatorfile; Path "" means none): /readyz answers 500
	// while it is absent, and ADD, GC and STATUS wait for it (Timeout)
	// before they take a slot. Its Interval and Timeout also bound a file
	// named by a request's own config.
	Readiness readiness.Indicator
	// BodyTimeout bounds the reading of a request body, which the header
	// timeout does not cover (requestBodyTimeout).
	BodyTimeout time.Duration
	// SelfCalls, if set, refuses requests that come from inside a delegate
	// call of the same container.
	SelfCalls SelfCallDetector
}

// Server serves the daemon socket.
type Server struct {
	opts     Options
	slots    chan struct{} // nil: no cap
	stopping atomic.Bool
	http     *http.Server
}

// New validates opts and builds the server.
func New(opts Options) (*Server, error) {
	if opts.CNI == nil {
		return nil, errors.New("server: a CNI backend is required")
	}
	if opts.Logger == nil {
		return nil, errors.New("server: a logger is required")
	}
	if opts.ConnectionLimit < 0 {
		return nil, fmt.Errorf("server: connection limit must be > 0, got %d", opts.ConnectionLimit)
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = DefaultBodyTimeout
	}
	s := &Server{opts: opts}
	if opts.ConnectionLimit > 0 {
		s.slots = make(chan struct{}, opts.ConnectionLimit)
	}
	s.http = &http.Server{
		Handler: s.Handler(),
		// A header that never finishes must not hold a goroutine forever;
		// bodies are bounded by MaxBodyBytes and BodyTimeout.
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext:       withConn,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	// One request per connection, as upstream: the shim dials per call.
	s.http.SetKeepAlivesEnabled(false)
	return s, nil
}

// Handler returns the mux with every endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(api.PathCNI, s.instrument(api.PathCNI, http.HandlerFunc(s.handleCNI)))
	mux.Handle(api.PathDelegate, s.instrument(api.PathDelegate, http.HandlerFunc(s.handleDelegate)))
	mux.Handle(api.PathHealthz, s.instrument(api.PathHealthz, http.HandlerFunc(s.handleHealthz)))
	mux.Handle(api.PathReadyz, s.instrument(api.PathReadyz, http.HandlerFunc(s.handleReadyz)))
	mux.Handle("/", s.instrument("NotFound", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	})))
	return mux
}

// Serve serves l until Shutdown. It returns nil after a Shutdown.
func (s *Server) Serve(l net.Listener) error {
	if err := s.http.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// SetShuttingDown starts the drain: /readyz answers 500 from now on, so
// shims send new ADD, CHECK, GC and STATUS to the next daemon, while
// /healthz, /cni and /delegate are still served (a DEL reaches this one)
// until Shutdown (§3.12).
func (s *Server) SetShuttingDown() { s.stopping.Store(true) }

// Shutdown ends the drain: it closes the listener (which removes the socket
// if it is still ours) and waits for in-flight requests until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.SetShuttingDown()
	return s.http.Shutdown(ctx)
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	if !probeMethod(w, r) {
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	if !probeMethod(w, r) {
		return
	}
	if err := s.ready(); err != nil {
		s.opts.Logger.Debug("/readyz: not ready", "reason", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func probeMethod(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
		return false
	}
	return true
}

// acquire waits for a command slot, or until ctx ends.
func (s *Server) acquire(ctx context.Context) (func(), error) {
	if s.slots == nil {
		return func() {}, nil
	}
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots }, nil
	case <-ctx.Done():
		return nil, &cnitypes.Error{
			Code: cnitypes.ErrTryAgainLater,
			Msg:  fmt.Sprintf("all %d request slots (connectionLimit) stayed busy: %v", cap(s.slots), ctx.Err()),
		}
	}
}

// instrument counts every request by handler, status code and method.
func (s *Server) instrument(handler string, next http.Handler) http.Handler {
	if s.opts.Observer == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.opts.Observer.RequestDone(handler, r.Method, rec.code)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.code, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (the body
// read deadline).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	return r.ResponseWriter.Write(b)
}
