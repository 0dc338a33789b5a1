// Package readiness answers "is this node's primary network ready?" the way
// upstream Multus does: by the presence of the readiness indicator file
// (readinessindicatorfile, for example flannel's subnet.env). The daemon's
// /readyz follows it, and ADD, GC and STATUS wait for it (bounded) before
// any delegate runs, so a node that reboots with 00-multus.conf still in
// place does not attach pods before the primary network is up.
package readiness

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Defaults of an Indicator (upstream: poll every 1 s for 45 s).
const (
	DefaultInterval = time.Second
	DefaultTimeout  = 45 * time.Second
)

// ErrNotReady is wrapped by every error that means "the file is not (yet)
// there as a file": missing, a directory, or its directory missing.
var ErrNotReady = errors.New("primary network not ready")

// Indicator is one readiness indicator file, as the daemon's filesystem
// sees it.
type Indicator struct {
	// Path of the file; required.
	Path string
	// Interval between two looks while waiting; 0 means DefaultInterval.
	Interval time.Duration
	// Timeout bounds Wait; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Check looks once. It returns nil when Path is an existing file that is
// not a directory, and otherwise an error that names the path and says
// what is wrong with it.
func (ind *Indicator) Check() error {
	fi, err := os.Stat(ind.Path)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("%w: readiness indicator file %s is a directory, not a file", ErrNotReady, ind.Path)
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		dir := filepath.Dir(ind.Path)
		if _, derr := os.Stat(dir); errors.Is(derr, fs.ErrNotExist) {
			return fmt.Errorf("%w: readiness indicator file %s does not exist (nor does its directory %s)", ErrNotReady, ind.Path, dir)
		}
		return fmt.Errorf("%w: readiness indicator file %s does not exist", ErrNotReady, ind.Path)
	default:
		// ENOTDIR (a parent is a file), EACCES, ...: still "not ready",
		// since the node may yet fix it; the cause is in the message.
		return fmt.Errorf("%w: readiness indicator file %s: %w", ErrNotReady, ind.Path, err)
	}
}

// Wait returns nil as soon as Check does, or the last Check error once
// Timeout has passed (or ctx ended), with upstream's hint.
func (ind *Indicator) Wait(ctx context.Context) error {
	interval, timeout := ind.Interval, ind.Timeout
	if interval <= 0 {
		interval = DefaultInterval
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		err := ind.Check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w, still after waiting %s; have you checked that your default network is ready?", err, timeout)
		case <-ticker.C:
		}
	}
}
