package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	cnitypes "github.com/containernetworking/cni/pkg/types"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/logx"
)

func (s *Server) handleCNI(w http.ResponseWriter, r *http.Request) {
	s.serveCommand(w, r, api.PathCNI)
}

func (s *Server) handleDelegate(w http.ResponseWriter, r *http.Request) {
	s.serveCommand(w, r, api.PathDelegate)
}

// serveCommand is the common path of /cni and /delegate: decode, merge,
// wait for a slot, run, answer.
func (s *Server) serveCommand(w http.ResponseWriter, r *http.Request, endpoint string) {
	if r.Method != http.MethodPost {
		http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
		return
	}
	inv, cerr := s.readRequest(w, r, endpoint)
	if cerr != nil {
		s.opts.Logger.Warn("bad request", "endpoint", endpoint, "err", cerr.Msg)
		writeCNIError(w, cerr)
		return
	}
	log := s.requestLogger(inv, endpoint)
	if cerr := s.selfCall(r, inv); cerr != nil {
		log.Error("self-call refused", "err", cerr.Msg)
		writeCNIError(w, cerr)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	defer cancel()
	// Before a slot: requests waiting for the primary network must not
	// starve the ones (DEL) that may proceed.
	if cerr := s.waitPrimary(ctx, inv, log); cerr != nil {
		log.Warn("primary network not ready", "err", cerr.Msg)
		writeCNIError(w, cerr)
		return
	}
	release, err := s.acquire(ctx)
	if err != nil {
		log.Warn("no request slot", "err", err)
		writeCNIError(w, commandError(inv, err))
		return
	}
	defer release()
	if o := s.opts.Observer; o != nil {
		o.InFlight(1)
		defer o.InFlight(-1)
	}

	start := time.Now()
	req := &attach.Request{
		Command: inv.Command, ContainerID: inv.ContainerID, Netns: inv.Netns, IfName: inv.IfName,
		CNIArgs: inv.CNIArgs, Pod: inv.Pod, Config: inv.Config, Logger: log,
	}
	result, err := s.run(ctx, endpoint, req, inv.Attrs)
	var body []byte
	if err == nil && inv.Command == cmdAdd {
		body, err = encodeResult(result)
	}
	elapsed := time.Since(start)
	if o := s.opts.Observer; o != nil {
		o.CommandDone(endpoint, inv.Command, elapsed, err)
	}
	if err != nil {
		// The one log line of a failed command, with what the lower
		// layers attached to the error (rollback, kept caches).
		log.Error("command failed", append([]any{"duration", elapsed, "err", err}, logx.Attrs(err)...)...)
		writeCNIError(w, commandError(inv, err))
		return
	}
	log.Info("command done", "duration", elapsed)
	if body != nil {
		writeJSON(w, http.StatusOK, json.RawMessage(body))
		return
	}
	w.WriteHeader(http.StatusOK)
}

// readInvocation reads the bounded body, decodes it and, for /cni, merges
// the daemon-config override into its config.
func (s *Server) readRequest(w http.ResponseWriter, r *http.Request, endpoint string) (*decodedRequest, *cnitypes.Error) {
	body, cerr := s.readBody(w, r)
	if cerr != nil {
		return nil, cerr
	}
	inv, cerr := decodeRequest(body, endpoint)
	if cerr != nil {
		return nil, cerr
	}
	// /delegate carries a delegate's own config: merging daemon-config
	// into it (upstream's quirk, §2.7) would overwrite the caller's keys.
	if endpoint == api.PathCNI {
		merged, err := MergeConfig(inv.Config, s.opts.Override)
		if err != nil {
			return nil, cniErr(cnitypes.ErrDecodingFailure, "%s: %v", inv.Command, err)
		}
		inv.Config = merged
	}
	return inv, nil
}

// readBody reads the body within MaxBodyBytes and BodyTimeout: a client
// that trickles its body is cut off at the deadline instead of holding a
// goroutine and a connection for as long as it likes.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *cnitypes.Error) {
	rc := http.NewResponseController(w)
	// Not every ResponseWriter supports deadlines (tests' recorders); the
	// unix socket's does.
	deadline := rc.SetReadDeadline(time.Now().Add(s.opts.BodyTimeout)) == nil
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if deadline {
		_ = rc.SetReadDeadline(time.Time{})
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		var netErr net.Error
		switch {
		case errors.As(err, &tooBig):
			return nil, cniErr(cnitypes.ErrDecodingFailure, "request body exceeds the %d-byte limit (maxRequestBytes)", tooBig.Limit)
		case errors.As(err, &netErr) && netErr.Timeout():
			return nil, cniErr(cnitypes.ErrDecodingFailure, "request body not received within %s (requestBodyTimeout): %v", s.opts.BodyTimeout, err)
		}
		return nil, cniErr(cnitypes.ErrDecodingFailure, "read request body: %v", err)
	}
	return body, nil
}

// run dispatches one command to the backend.
func (s *Server) run(ctx context.Context, endpoint string, req *attach.Request, attrs *api.InterfaceAttributes) (cnitypes.Result, error) {
	c := s.opts.CNI
	if endpoint == api.PathDelegate {
		switch req.Command {
		case cmdAdd:
			return c.DelegateAdd(ctx, req, attrs)
		case cmdDel:
			return nil, c.DelegateDel(ctx, req, attrs)
		case cmdCheck:
			return nil, c.DelegateCheck(ctx, req)
		case cmdStatus:
			return nil, c.DelegateStatus(ctx, req)
		}
	} else {
		switch req.Command {
		case cmdAdd:
			return c.Add(ctx, req)
		case cmdDel:
			return nil, c.Del(ctx, req)
		case cmdCheck:
			return nil, c.Check(ctx, req)
		case cmdGC:
			return nil, c.GC(ctx, req)
		case cmdStatus:
			return nil, c.Status(ctx, req)
		}
	}
	// decodeRequest admits only the commands above.
	return nil, fmt.Errorf("unhandled command %q on %s", req.Command, endpoint)
}

// requestLogger is the one request-scoped logger, passed down in the
// request so that every line of this invocation carries its identity.
func (s *Server) requestLogger(inv *decodedRequest, endpoint string) *slog.Logger {
	attrs := []any{"endpoint", endpoint, "command", inv.Command}
	if inv.ContainerID != "" {
		attrs = append(attrs, "containerID", inv.ContainerID)
	}
	if inv.Pod.Name != "" {
		attrs = append(attrs, "pod", inv.Pod.Namespace+"/"+inv.Pod.Name)
	}
	if inv.Command != cmdStatus && inv.Command != cmdGC {
		attrs = append(attrs, "ifname", inv.IfName)
	}
	return s.opts.Logger.With(attrs...)
}

// encodeResult converts an ADD result to the 1.0.0 wire form (§2.4) and
// wraps it as {"Result": ...}.
func encodeResult(result cnitypes.Result) ([]byte, error) {
	if result == nil {
		return nil, errors.New("the delegates returned no result")
	}
	converted, err := result.GetAsVersion(api.ResultVersion)
	if err != nil {
		return nil, fmt.Errorf("convert result to %s: %w", api.ResultVersion, err)
	}
	raw, err := json.Marshal(converted)
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	return json.Marshal(api.Response{Result: raw})
}

// commandError builds the CNI error object of a failed command. The code
// and details of a CNI error in the chain are kept (so the delegate's own
// code reaches the runtime); the message carries the whole chain, prefixed
// with the invocation's identity.
func commandError(inv *decodedRequest, err error) *cnitypes.Error {
	out := &cnitypes.Error{Code: attach.Code(err), Msg: err.Error()}
	var ce *cnitypes.Error
	if errors.As(err, &ce) && ce.Details != "" {
		out.Details = ce.Details
		// cnitypes.Error appends "; <details>" to its message; the
		// details already travel in their own field.
		out.Msg = strings.TrimSuffix(out.Msg, "; "+ce.Details)
	}
	out.Msg = describe(inv) + ": " + out.Msg
	return out
}

func describe(inv *decodedRequest) string {
	var b strings.Builder
	b.WriteString(inv.Command)
	if inv.Pod.Name != "" {
		fmt.Fprintf(&b, " pod %s/%s", inv.Pod.Namespace, inv.Pod.Name)
	}
	if inv.ContainerID != "" {
		fmt.Fprintf(&b, " container %q", inv.ContainerID)
	}
	if inv.Command != cmdStatus && inv.Command != cmdGC {
		fmt.Fprintf(&b, " ifname %s", inv.IfName)
	}
	return b.String()
}

// writeCNIError answers 400 with the CNI error object, as upstream's shim
// expects for every failure.
func writeCNIError(w http.ResponseWriter, e *cnitypes.Error) {
	writeJSON(w, http.StatusBadRequest, e)
}

// writeJSON is the one place that writes a JSON body: the Content-Type is
// set before WriteHeader, so it reaches the client (upstream sets it after,
// and loses it).
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
