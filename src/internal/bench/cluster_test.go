package bench

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

func TestForEachBounded(t *testing.T) {
	t.Run("runs every index within the bound", func(t *testing.T) {
		var inFlight, peak, calls atomic.Int64
		seen := make([]atomic.Bool, 50)
		err := forEachBounded(context.Background(), 50, 4, func(ctx context.Context, i int) error {
			n := inFlight.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			seen[i].Store(true)
			calls.Add(1)
			inFlight.Add(-1)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if calls.Load() != 50 || peak.Load() > 4 {
			t.Fatalf("calls %d, peak concurrency %d (bound 4)", calls.Load(), peak.Load())
		}
		for i := range seen {
			if !seen[i].Load() {
				t.Fatalf("index %d never ran", i)
			}
		}
	})
	t.Run("stops at the first error and returns it", func(t *testing.T) {
		boom := errors.New("boom")
		var calls atomic.Int64
		err := forEachBounded(context.Background(), 1000, 2, func(ctx context.Context, i int) error {
			calls.Add(1)
			if i == 3 {
				return boom
			}
			return nil
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
		if calls.Load() >= 1000 {
			t.Fatalf("kept going after the error: %d calls", calls.Load())
		}
	})
	t.Run("a cancelled context is reported", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := forEachBounded(ctx, 10, 2, func(context.Context, int) error { return nil })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

func TestNadCRDShape(t *testing.T) {
	crd := nadCRD()
	if crd.Name != crd.Spec.Names.Plural+"."+crd.Spec.Group {
		t.Fatalf("CRD name %q must be <plural>.<group>", crd.Name)
	}
	if len(crd.Spec.Versions) != 1 || !crd.Spec.Versions[0].Storage || crd.Spec.Versions[0].Name != "v1" {
		t.Fatalf("want one served storage version v1, got %+v", crd.Spec.Versions)
	}
}
