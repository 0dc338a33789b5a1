package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	cnitypes "github.com/containernetworking/cni/pkg/types"

	"github.com/multus-thick/multus-thick/src/internal/readiness"
)

// ready is /readyz's answer: nil while the daemon takes new work. A
// draining daemon is never ready; otherwise the readiness indicator (when
// configured) decides.
func (s *Server) ready() error {
	if s.stopping.Load() {
		return errStopping
	}
	if s.opts.Readiness.Path != "" {
		return s.opts.Readiness.Check()
	}
	return nil
}

var errStopping = errors.New("shutting down")

// gate is the readiness indicator a command waits for before any work, or
// nil. ADD, GC and STATUS wait, as upstream's non-auto mode does (§3.6);
// DEL never does, so a pod can always be torn down while the primary
// network is away, and CHECK does not either (upstream does not gate it).
//
// The daemon-config key names the file in both modes. Without it, a
// readinessindicatorfile in the request's own config (a user-provided
// multusConfigFile carries it, upstream's non-auto mode honours it) is used
// with the same bounds.
func (s *Server) gate(inv *decodedRequest) *readiness.Indicator {
	switch inv.Command {
	case cmdAdd, cmdGC, cmdStatus:
	default:
		return nil
	}
	if s.opts.Readiness.Path != "" {
		return &s.opts.Readiness
	}
	var conf struct {
		File string `json:"readinessindicatorfile"`
	}
	if json.Unmarshal(inv.Config, &conf) != nil || conf.File == "" {
		return nil
	}
	ind := s.opts.Readiness
	ind.Path = conf.File
	return &ind
}

// waitPrimary waits, bounded, for the command's readiness indicator. The
// error is a CNI "try again later" that names the file.
func (s *Server) waitPrimary(ctx context.Context, inv *decodedRequest, log *slog.Logger) *cnitypes.Error {
	ind := s.gate(inv)
	if ind == nil {
		return nil
	}
	err := ind.Check()
	if err == nil {
		return nil
	}
	log.Info("waiting for the primary network", "reason", err, "timeout", ind.Timeout)
	if err := ind.Wait(ctx); err != nil {
		return &cnitypes.Error{Code: cnitypes.ErrTryAgainLater, Msg: describe(inv) + ": " + err.Error()}
	}
	return nil
}
