// Package release makes sure every attachment the daemon made is released
// in the end, even when a DEL fails or never arrives.
//
// The Retrier retries the DELs attach kept as pending (a delegate DEL, or
// an ADD's rollback, that failed), from the records on disk, so at startup
// too, with capped exponential backoff and bounded concurrency, until they
// succeed or are older than the give-up age. The Reconciler, for runtimes
// that never send GC (CNI < 1.1.0), deletes records whose pod is gone (by
// UID) and whose netns no longer exists, a bounded number per pass, never
// touching a container with a request in flight.
package release

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/multus-thick/multus-thick/src/internal/attach"
)

// Backend is the part of the attacher the background work uses.
type Backend interface {
	Sandboxes() ([]attach.Sandbox, error)
	RetryDelete(ctx context.Context, log *slog.Logger, containerID string, giveUpAfter time.Duration) (attach.RetryOutcome, error)
	ReleaseOrphan(ctx context.Context, log *slog.Logger, containerID string, gone func(context.Context, attach.Sandbox) bool) (bool, error)
}

var _ Backend = (*attach.Attacher)(nil)

// Metrics receives the pending-delete figures; nil ok.
type Metrics interface {
	PendingDeletes(n int)
	DeleteRetried(outcome string)
	OrphanReleased()
}

// Options configure a Retrier.
type Options struct {
	Backend Backend
	Metrics Metrics
	Logger  *slog.Logger
	// BaseBackoff is the wait after the first failure (0: 1 s); it doubles
	// per attempt up to MaxBackoff (0: 2 m).
	BaseBackoff, MaxBackoff time.Duration
	// GiveUpAfter is the age of the first failure after which a DEL is
	// given up (0: never).
	GiveUpAfter time.Duration
	// Concurrency bounds the retries run at once (0: 4).
	Concurrency int
	Now         func() time.Time
}

// Retrier retries pending DELs in the background.
type Retrier struct {
	o    Options
	kick chan struct{}
}

// NewRetrier builds a Retrier; Run starts it.
func NewRetrier(o Options) *Retrier {
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 2 * time.Minute
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Retrier{o: o, kick: make(chan struct{}, 1)}
}

// Kick tells the retrier a new DEL is pending (attach.Options.OnPendingDelete).
func (r *Retrier) Kick(string) {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Backoff is the wait after attempt n (n >= 1) before the next one.
func (r *Retrier) Backoff(attempts int) time.Duration {
	d := r.o.BaseBackoff
	for i := 1; i < attempts && d < r.o.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, r.o.MaxBackoff)
}

// Run retries until ctx ends; the first pass runs at once (startup).
func (r *Retrier) Run(ctx context.Context) {
	for {
		wait := r.Pass(ctx)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-r.kick:
			t.Stop()
		case <-t.C:
		}
	}
}

// Pass retries every pending DEL that is due and returns the wait until
// the next one is (MaxBackoff when nothing is pending).
func (r *Retrier) Pass(ctx context.Context) time.Duration {
	log := r.o.Logger
	sbs, err := r.o.Backend.Sandboxes()
	if err != nil {
		log.Error("pending deletes: list records", "err", err)
		return r.o.MaxBackoff
	}
	now := r.o.Now()
	next := r.o.MaxBackoff
	var due []attach.Sandbox
	pending := 0
	for _, sb := range sbs {
		if !sb.Pending {
			continue
		}
		pending++
		at := sb.LastAttempt.Add(r.Backoff(sb.Attempts))
		if r.o.GiveUpAfter > 0 {
			at = minTime(at, sb.Since.Add(r.o.GiveUpAfter))
		}
		if wait := at.Sub(now); wait > 0 {
			next = min(next, wait)
			continue
		}
		due = append(due, sb)
	}
	if r.o.Metrics != nil {
		r.o.Metrics.PendingDeletes(pending)
	}
	if len(due) == 0 {
		return next
	}
	sem := make(chan struct{}, r.o.Concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	left := pending
	for _, sb := range due {
		sem <- struct{}{}
		wg.Add(1)
		go func(sb attach.Sandbox) {
			defer func() { <-sem; wg.Done() }()
			out, err := r.o.Backend.RetryDelete(ctx, log, sb.ContainerID, r.o.GiveUpAfter)
			if err != nil && out != attach.RetryFailed {
				log.Error("pending delete", "container", sb.ContainerID, "err", err)
			}
			if out == attach.RetryNothing {
				return
			}
			if r.o.Metrics != nil {
				r.o.Metrics.DeleteRetried(out.String())
			}
			mu.Lock()
			defer mu.Unlock()
			switch out {
			case attach.RetryReleased, attach.RetryGaveUp:
				left--
			case attach.RetryFailed:
				next = min(next, r.Backoff(sb.Attempts+1))
			}
		}(sb)
	}
	wg.Wait()
	if r.o.Metrics != nil {
		r.o.Metrics.PendingDeletes(left)
	}
	return next
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
