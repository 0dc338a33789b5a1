package autoconf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/multus-thick/multus-thick/src/internal/testutil"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestSettlePeriod: a primary that vanishes keeps 00-multus.conf as it
// was until it has been gone for the settle period; coming back in time
// cancels the switch; an earlier candidate next to a present primary is
// adopted at once.
func TestSettlePeriod(t *testing.T) {
	t.Parallel()
	const settle = 5 * time.Second
	tests := []struct {
		name string
		run  func(t *testing.T, e *env, clock *fakeClock, primary, other string)
	}{
		{name: "replacement adopted only after the settle period", run: func(t *testing.T, e *env, clock *fakeClock, primary, other string) {
			remove(t, primary)
			if err := e.m.Reconcile(); !errors.Is(err, ErrSettling) {
				t.Fatalf("Reconcile right after removal = %v, want ErrSettling", err)
			}
			clock.advance(settle - time.Millisecond)
			if err := e.m.Reconcile(); !errors.Is(err, ErrSettling) {
				t.Fatalf("Reconcile just before the period = %v, want ErrSettling", err)
			}
			if got := clusterNetwork(e); got != primary {
				t.Fatalf("clusterNetwork = %q during the settle period, want %q", got, primary)
			}
			clock.advance(time.Millisecond)
			if err := e.m.Reconcile(); err != nil {
				t.Fatal(err)
			}
			if got := clusterNetwork(e); got != other {
				t.Fatalf("clusterNetwork = %q after the period, want %q", got, other)
			}
		}},
		{name: "primary rewritten in time: no flip", run: func(t *testing.T, e *env, clock *fakeClock, primary, other string) {
			remove(t, primary)
			if err := e.m.Reconcile(); !errors.Is(err, ErrSettling) {
				t.Fatalf("err = %v", err)
			}
			clock.advance(settle / 2)
			e.write(t, filepath.Base(primary), ptpConf)
			if err := e.m.Reconcile(); err != nil {
				t.Fatal(err)
			}
			// A second disappearance starts a new period.
			remove(t, primary)
			clock.advance(settle / 2)
			if err := e.m.Reconcile(); !errors.Is(err, ErrSettling) {
				t.Fatalf("second removal: err = %v, want a fresh settle period", err)
			}
			if got := clusterNetwork(e); got != primary {
				t.Fatalf("clusterNetwork = %q, want %q", got, primary)
			}
		}},
		{name: "earlier candidate while the primary exists: at once", run: func(t *testing.T, e *env, _ *fakeClock, _, _ string) {
			early := e.write(t, "05-early.conf", ptpConf)
			if err := e.m.Reconcile(); err != nil {
				t.Fatal(err)
			}
			if got := clusterNetwork(e); got != early {
				t.Fatalf("clusterNetwork = %q, want %q", got, early)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{t: time.Unix(1000, 0)}
			e := newEnv(t, func(o *Options) { o.SettlePeriod = settle; o.now = clock.now })
			primary := e.write(t, "10-ptp.conf", ptpConf)
			other := e.write(t, "20-bridge.conflist", bridgeList)
			if err := e.m.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			tc.run(t, e, clock, primary, other)
		})
	}
}

// TestWatchSettles: the watch adopts the replacement on its own once the
// settle period is over, without another file event.
func TestWatchSettles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.SettlePeriod = 300 * time.Millisecond })
	primary := e.write(t, "10-ptp.conf", ptpConf)
	other := e.write(t, "20-bridge.conflist", bridgeList)
	if err := e.m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.m.Watch(ctx) }()
	remove(t, primary)
	testutil.Eventually(t, "the replacement after the settle period", 5*time.Second, func() bool { return clusterNetwork(e) == other })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}
