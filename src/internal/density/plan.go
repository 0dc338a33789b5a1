package density

import (
	"errors"
	"fmt"
	"time"
)

// Mode is what is on a pod's network path.
type Mode string

const (
	// ModeAttach: Multus, each pod with one macvlan attachment.
	ModeAttach Mode = "multus+macvlan"
	// ModePlain: Multus, pods without attachments (the cluster network only).
	ModePlain Mode = "multus"
	// ModeFlannel: flannel alone; 00-multus.conf moved aside on every node.
	ModeFlannel Mode = "flannel"
)

// Pattern is how the pods of a phase are created.
type Pattern string

const (
	PatternRate  Pattern = "rate"  // one pod every 1/Rate seconds
	PatternBurst Pattern = "burst" // all at once (bounded concurrency)
)

// Options are a run's knobs; the CLI fills them from flags.
type Options struct {
	Pods     int           // pods per phase
	Rate     float64       // pods per second in the rate phases
	MaxPods  int           // refuse Pods above this (the lab's 2 workers run 110 pods each at most)
	Deadline time.Duration // the whole run, cleanup excluded
	// PhaseTimeout bounds one phase (create, all ready, delete).
	PhaseTimeout time.Duration
	Modes        []Mode
	Patterns     []Pattern
}

// hardMaxPods bounds -max-pods itself: the lab's two workers run at most
// 110 pods each, some of them the system's.
const hardMaxPods = 200

// DefaultOptions is what `make bench-lab` runs without arguments.
func DefaultOptions() Options {
	return Options{
		Pods: 60, Rate: 10, MaxPods: 150, Deadline: 10 * time.Minute, PhaseTimeout: 3 * time.Minute,
		Modes:    []Mode{ModeAttach, ModePlain, ModeFlannel},
		Patterns: []Pattern{PatternRate, PatternBurst},
	}
}

// Validate rejects options that would not be bounded or cannot run.
func (o Options) Validate() error {
	var errs []error
	if o.Pods < 1 {
		errs = append(errs, fmt.Errorf("pods %d: want at least 1", o.Pods))
	}
	if o.MaxPods < 1 || o.MaxPods > hardMaxPods {
		errs = append(errs, fmt.Errorf("max pods %d: want 1 to %d (two workers of 110 pods each, less the system's)", o.MaxPods, hardMaxPods))
	} else if o.Pods > o.MaxPods {
		errs = append(errs, fmt.Errorf("pods %d: above the cap of %d", o.Pods, o.MaxPods))
	}
	if o.Rate <= 0 || o.Rate > 100 {
		errs = append(errs, fmt.Errorf("rate %g: want 0 < rate <= 100 pods/s", o.Rate))
	}
	if o.Deadline <= 0 || o.Deadline > 30*time.Minute {
		errs = append(errs, fmt.Errorf("deadline %s: want 0 < deadline <= 30m", o.Deadline))
	}
	if o.PhaseTimeout <= 0 {
		errs = append(errs, fmt.Errorf("phase timeout %s: want > 0", o.PhaseTimeout))
	}
	if len(o.Modes) == 0 || len(o.Patterns) == 0 {
		errs = append(errs, errors.New("no modes or no patterns: nothing to measure"))
	}
	for _, m := range o.Modes {
		switch m {
		case ModeAttach, ModePlain, ModeFlannel:
		default:
			errs = append(errs, fmt.Errorf("mode %q: want %s, %s or %s", m, ModeAttach, ModePlain, ModeFlannel))
		}
	}
	for _, p := range o.Patterns {
		switch p {
		case PatternRate, PatternBurst:
		default:
			errs = append(errs, fmt.Errorf("pattern %q: want %s or %s", p, PatternRate, PatternBurst))
		}
	}
	return errors.Join(errs...)
}

// Phase is one measured step: a mode and a creation pattern.
type Phase struct {
	Mode    Mode
	Pattern Pattern
}

func (p Phase) String() string { return string(p.Mode) + "/" + string(p.Pattern) }

// Plan orders the phases: every Multus mode first, flannel last, so
// 00-multus.conf is moved aside once and restored once.
func (o Options) Plan() []Phase {
	var out []Phase
	for _, flannel := range []bool{false, true} {
		for _, m := range o.Modes {
			if (m == ModeFlannel) != flannel {
				continue
			}
			for _, p := range o.Patterns {
				out = append(out, Phase{Mode: m, Pattern: p})
			}
		}
	}
	return out
}

// createOffsets is when, after the phase's start, pod i is created.
func createOffsets(n int, pattern Pattern, rate float64) []time.Duration {
	out := make([]time.Duration, n)
	if pattern == PatternBurst {
		return out
	}
	step := time.Duration(float64(time.Second) / rate)
	for i := range out {
		out[i] = time.Duration(i) * step
	}
	return out
}
