package daemon

import (
	"context"
	"log/slog"

	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/config"
	"github.com/multus-thick/multus-thick/src/internal/metrics"
	"github.com/multus-thick/multus-thick/src/internal/release"
)

// releaser wires package release: failed DELs retried in the background,
// and records whose pod and netns are gone reconciled away.
type releaser struct {
	cfg     *config.Config
	log     *slog.Logger
	m       *metrics.Metrics
	retrier *release.Retrier // set by start, before the server serves
}

func newReleaser(cfg *config.Config, log *slog.Logger, m *metrics.Metrics) *releaser {
	return &releaser{cfg: cfg, log: log.With("component", "release"), m: m}
}

// kick is attach.Options.OnPendingDelete.
func (r *releaser) kick(id string) {
	if r.retrier != nil {
		r.retrier.Kick(id)
	}
}

// start runs the retrier (its first pass retries what a previous daemon
// left pending) and, unless disabled, the reconciler (pods nil: no
// Kubernetes, the netns alone decides).
// A backend that is not the attacher (tests) has nothing to release.
func (r *releaser) start(bg context.Context, backend any, pods attach.PodSource) {
	b, ok := backend.(release.Backend)
	if !ok {
		return
	}
	r.retrier = release.NewRetrier(release.Options{
		Backend: b, Metrics: r.m, Logger: r.log,
		MaxBackoff: r.cfg.DeleteRetryBackoff.D(), GiveUpAfter: r.cfg.DeleteRetryMaxAge.D(),
	})
	go r.retrier.Run(bg)
	if r.cfg.DisableReconcile {
		r.log.Info("reconciliation of orphaned delegate caches is off (disableReconcile)")
		return
	}
	rec := release.NewReconciler(release.ReconcileOptions{
		Backend: b, Pods: pods, Metrics: r.m, Logger: r.log, Interval: r.cfg.ReconcileInterval.D(),
	})
	go rec.Run(bg)
}
