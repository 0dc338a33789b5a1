package delegate

import "context"

// Pool is a counting semaphore bounding concurrent delegate executions.
// Waiting for a slot respects the caller's context, so a request whose
// deadline passes while queued fails instead of piling up.
type Pool struct{ slots chan struct{} }

// NewPool returns a pool of n slots (n >= 1).
func NewPool(n int) *Pool {
	if n < 1 {
		n = 1
	}
	return &Pool{slots: make(chan struct{}, n)}
}

// Acquire takes a slot or returns ctx's error.
func (p *Pool) Acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release returns a slot taken by Acquire.
func (p *Pool) Release() { <-p.slots }

// InUse reports how many slots are taken.
func (p *Pool) InUse() int { return len(p.slots) }
