package attach

import (
	"context"
	"fmt"
	"sync"
)

// keyedMutex is a set of context-aware mutexes created on demand per key
// and dropped when nobody holds or waits for them.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	ch   chan struct{} // holds one token while locked
	refs int
}

func (k *keyedMutex) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{ch: make(chan struct{}, 1)}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()

	select {
	case e.ch <- struct{}{}:
	case <-ctx.Done():
		k.drop(key, e)
		return nil, fmt.Errorf("waiting for another request on container %s: %w", key, ctx.Err())
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-e.ch
			k.drop(key, e)
		})
	}, nil
}

func (k *keyedMutex) drop(key string, e *keyedEntry) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e.refs--
	if e.refs == 0 {
		delete(k.m, key)
	}
}

// size reports how many keys are tracked (tests check nothing leaks).
func (k *keyedMutex) size() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}

// tryLock takes the key's lock only if nobody holds it: background work
// uses it to leave containers with a request in flight alone.
func (k *keyedMutex) tryLock(key string) (func(), bool) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	if k.m[key] != nil {
		k.mu.Unlock()
		return nil, false // held, or somebody is waiting for it
	}
	e := &keyedEntry{ch: make(chan struct{}, 1), refs: 1}
	e.ch <- struct{}{}
	k.m[key] = e
	k.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			<-e.ch
			k.drop(key, e)
		})
	}, true
}
