package bench

import (
	"os"
	"sync"
	"time"
)

// rssWindow is what a sampling window saw.
type rssWindow struct {
	DaemonPeakKiB    int64 // VmHWM after a reset at the window's start (exact)
	DaemonAnonPeak   int64 // largest sampled RssAnon of the daemon: its heap, without the mapped binary
	DelegatesPeakKiB int64 // largest sampled sum over the daemon's descendants, or the floor's plugins
	CallersPeakKiB   int64 // largest sampled sum over the harness's own new children (shims)
	Samples          int
}

// sampler watches memory while a burst runs. The daemon's own peak needs no
// sampling (VmHWM is reset at start and read at stop); short-lived delegate
// and shim processes are caught by scanning /proc every interval, which can
// miss a process that lives less than one interval, so those sums are lower
// bounds.
type sampler struct {
	fs        ProcFS
	daemonPID int          // 0 for the floor
	self      int          // the harness
	baseline  map[int]bool // harness children present before the window (envtest, daemon)
	stopCh    chan struct{}
	wg        sync.WaitGroup
	mu        sync.Mutex
	win       rssWindow
}

func startSampler(fs ProcFS, daemonPID int, interval time.Duration) *sampler {
	s := &sampler{fs: fs, daemonPID: daemonPID, self: os.Getpid(), baseline: map[int]bool{}, stopCh: make(chan struct{})}
	if snap, err := fs.Snapshot(); err == nil {
		for _, p := range snap {
			if p.PPID == s.self {
				s.baseline[p.PID] = true
			}
		}
	}
	if daemonPID > 0 {
		_ = fs.ResetPeak(daemonPID)
	}
	s.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.stopCh:
				return
			case <-t.C:
			}
		}
	})
	return s
}

func (s *sampler) sample() {
	snap, err := s.fs.Snapshot()
	if err != nil {
		return
	}
	var delegates, callers, anon int64
	if s.daemonPID > 0 {
		if st, err := s.fs.Status(s.daemonPID); err == nil {
			anon = st.AnonKiB
		}
		delegates, _ = SubtreeRSS(snap, s.daemonPID, nil, s.fs.PageSize)
		callers, _ = SubtreeRSS(snap, s.self, s.baseline, s.fs.PageSize)
	} else {
		// The floor: the harness's new children are the plugins themselves.
		delegates, _ = SubtreeRSS(snap, s.self, s.baseline, s.fs.PageSize)
	}
	s.mu.Lock()
	s.win.DelegatesPeakKiB = max(s.win.DelegatesPeakKiB, delegates)
	s.win.CallersPeakKiB = max(s.win.CallersPeakKiB, callers)
	s.win.DaemonAnonPeak = max(s.win.DaemonAnonPeak, anon)
	s.win.Samples++
	s.mu.Unlock()
}

func (s *sampler) stop() rssWindow {
	close(s.stopCh)
	s.wg.Wait()
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.daemonPID > 0 {
		if st, err := s.fs.Status(s.daemonPID); err == nil {
			s.win.DaemonPeakKiB = st.HWMKiB
		}
	}
	return s.win
}
