package autoconf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/multus-thick/multus-thick/src/internal/atomicfile"
)

// ErrReadinessGone: the readiness indicator file was removed while the
// daemon ran. Upstream then deletes 00-multus.conf and exits with code 2,
// so the runtime stops using Multus until the primary network is back.
var ErrReadinessGone = errors.New("readiness indicator file removed")

// Options configure a Manager.
type Options struct {
	// AutoconfigDir is searched for the primary config; required.
	AutoconfigDir string
	// ConfDir receives 00-multus.conf; required.
	ConfDir string
	// MasterCNI names the primary inside AutoconfigDir instead of taking
	// the first candidate.
	MasterCNI string
	// ForceCNIVersion rewrites the primary's cniVersion to Spec.CNIVersion
	// (test clusters only, as upstream).
	ForceCNIVersion bool
	// ReadinessIndicatorFile, when set, is watched; its removal ends Watch
	// with ErrReadinessGone.
	ReadinessIndicatorFile string
	// Spec is the content besides the primary.
	Spec Spec
	// FindTimeout bounds Start's wait for a primary (default 120 s, as
	// upstream's 120 attempts) and FindInterval is its poll period (1 s).
	FindTimeout, FindInterval time.Duration
	// SettlePeriod is how long the primary's file must stay gone before
	// another candidate replaces it (primarySettlePeriod): an editor or a
	// CNI installer that deletes and rewrites the file must not flip every
	// new pod to another network for that moment. 0 adopts at once.
	SettlePeriod time.Duration
	Logger       *slog.Logger
	// now is the clock; tests replace it.
	now func() time.Time
}

// Manager owns 00-multus.conf in auto mode.
type Manager struct {
	opts     Options
	confPath string
	// primary is the path the current file was generated from.
	primary string
	// goneSince is when primary was first seen missing while another
	// candidate was there (zero: not missing).
	goneSince time.Time
}

// ErrSettling means the primary is gone and a replacement waits for the
// settle period; the current file stays. Reconcile says when to retry.
var ErrSettling = errors.New("primary CNI config gone; waiting for the settle period before adopting the next candidate")

// New validates opts.
func New(opts Options) (*Manager, error) {
	if opts.AutoconfigDir == "" || opts.ConfDir == "" {
		return nil, errors.New("autoconf: the autoconfig dir and the conf dir are required")
	}
	if opts.Spec.CNIVersion == "" {
		return nil, errors.New("autoconf: Multus' cniVersion is required")
	}
	if opts.Logger == nil {
		return nil, errors.New("autoconf: a logger is required")
	}
	if opts.FindTimeout <= 0 {
		opts.FindTimeout = 120 * time.Second
	}
	if opts.FindInterval <= 0 {
		opts.FindInterval = time.Second
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	m := &Manager{opts: opts, confPath: filepath.Join(opts.ConfDir, ConfName)}
	if opts.MasterCNI != "" && filepath.Join(opts.AutoconfigDir, opts.MasterCNI) == m.confPath {
		return nil, fmt.Errorf("autoconf: the master CNI config %q is the generated file itself", m.confPath)
	}
	return m, nil
}

// ConfPath is the generated file's path.
func (m *Manager) ConfPath() string { return m.confPath }

// Primary is the primary config the current file was generated from.
func (m *Manager) Primary() string { return m.primary }

// Start waits for a usable primary (up to FindTimeout) and writes the
// first 00-multus.conf. An incompatible version fails at once.
func (m *Manager) Start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, m.opts.FindTimeout)
	defer cancel()
	for {
		err := m.Reconcile()
		if err == nil || errors.Is(err, ErrIncompatible) {
			return err
		}
		m.opts.Logger.Info("waiting for the primary CNI config", "dir", m.opts.AutoconfigDir, "reason", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w", m.opts.FindTimeout, err)
		case <-time.After(m.opts.FindInterval):
		}
	}
}

// Reconcile finds the primary now and rewrites 00-multus.conf if its
// content changes. On any error the existing file is left as it is.
func (m *Manager) Reconcile() error {
	path, err := m.findPrimary()
	if err != nil {
		return err
	}
	if err := m.settle(path); err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read primary CNI config: %w", err)
	}
	if m.opts.ForceCNIVersion {
		if data, err = m.forceVersion(path, data); err != nil {
			return err
		}
	}
	conf, err := Generate(m.opts.Spec, path, data)
	if err != nil {
		return err
	}
	changed, err := writeIfChanged(m.confPath, conf, 0o600)
	if err != nil {
		return err
	}
	if changed || m.primary != path {
		m.opts.Logger.Info("wrote Multus config", "path", m.confPath, "primary", path)
	}
	m.primary = path
	return nil
}

// settle holds on to the current primary while its file is gone for less
// than SettlePeriod. A candidate that sorts before the current primary
// while the primary still exists is a real change and is adopted at once.
func (m *Manager) settle(candidate string) error {
	if m.opts.SettlePeriod <= 0 || m.primary == "" || candidate == m.primary {
		m.goneSince = time.Time{}
		return nil
	}
	if _, err := os.Stat(m.primary); err == nil {
		m.goneSince = time.Time{}
		return nil
	}
	now := m.opts.now()
	if m.goneSince.IsZero() {
		m.goneSince = now
	}
	if left := m.opts.SettlePeriod - now.Sub(m.goneSince); left > 0 {
		return &settlingError{primary: m.primary, candidate: candidate, left: left}
	}
	m.goneSince = time.Time{}
	return nil
}

type settlingError struct {
	primary, candidate string
	left               time.Duration
}

func (e *settlingError) Error() string {
	return fmt.Sprintf("%v: %s gone, %s adopted in %s", ErrSettling, e.primary, e.candidate, e.left.Round(time.Millisecond))
}

func (e *settlingError) Unwrap() error { return ErrSettling }

// retryAfter is how long to wait before reconciling again, for a
// settling error.
func retryAfter(err error) (time.Duration, bool) {
	var se *settlingError
	if errors.As(err, &se) {
		return se.left, true
	}
	return 0, false
}

// findPrimary returns the primary's path: MasterCNI, or the first .conf or
// .conflist by name that is not ours.
func (m *Manager) findPrimary() (string, error) {
	dir := m.opts.AutoconfigDir
	if m.opts.MasterCNI != "" {
		path := filepath.Join(dir, m.opts.MasterCNI)
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("%w: %w", ErrNoPrimary, err)
		}
		return path, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoPrimary, err)
	}
	var names []string
	for _, e := range entries {
		if isCandidate(e.Name()) && !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return "", fmt.Errorf("%w in %s", ErrNoPrimary, dir)
	}
	sort.Strings(names)
	return filepath.Join(dir, names[0]), nil
}

// isCandidate: .conf and .conflist (not .json, as upstream), never our own
// file nor a hidden temp file.
func isCandidate(name string) bool {
	if strings.HasPrefix(name, "00-multus") || strings.HasPrefix(name, ".") {
		return false
	}
	ext := filepath.Ext(name)
	return ext == ".conf" || ext == ".conflist"
}

// forceVersion rewrites the primary's cniVersion when it differs, keeping
// every other key. The rewrite triggers a watch event, which finds the
// version already right and writes nothing.
func (m *Manager) forceVersion(path string, data []byte) ([]byte, error) {
	top := map[string]json.RawMessage{}
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("primary CNI config %s: %w", path, err)
	}
	want, _ := json.Marshal(m.opts.Spec.CNIVersion)
	if bytes.Equal(top["cniVersion"], want) {
		return data, nil
	}
	top["cniVersion"] = want
	out, err := json.MarshalIndent(top, "", "  ")
	if err != nil {
		return nil, err
	}
	mode := fs.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := atomicfile.Write(path, out, mode, atomicfile.Sync); err != nil {
		return nil, fmt.Errorf("force cniVersion of %s: %w", path, err)
	}
	m.opts.Logger.Warn("rewrote the primary CNI config's cniVersion (forceCNIVersion)", "path", path, "cniVersion", m.opts.Spec.CNIVersion)
	return out, nil
}

// Remove deletes 00-multus.conf (deleteConfOnExit, or the readiness file
// went away). A missing file is not an error.
func (m *Manager) Remove() error { return RemoveFile(m.confPath) }

// Watch follows the primary until ctx ends (nil) or the readiness file is
// removed (ErrReadinessGone, after removing 00-multus.conf). Any change to
// a candidate in the autoconfig dir re-runs Reconcile: the primary changed,
// disappeared (the next candidate takes over) or an earlier one appeared.
// When Reconcile fails, the last good file stays (fail closed).
func (m *Manager) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", m.opts.AutoconfigDir, err)
	}
	defer w.Close()
	if err := w.Add(m.opts.AutoconfigDir); err != nil {
		return fmt.Errorf("watch %s: %w", m.opts.AutoconfigDir, err)
	}
	readiness := m.opts.ReadinessIndicatorFile
	if readiness != "" && filepath.Dir(readiness) != filepath.Clean(m.opts.AutoconfigDir) {
		if err := w.Add(filepath.Dir(readiness)); err != nil {
			return fmt.Errorf("watch readiness indicator %s: %w", readiness, err)
		}
	}
	// settled fires when a replacement's settle period is over.
	var settled <-chan time.Time
	reconcile := func() {
		if d, ok := m.reconcileLogged(); ok {
			settled = time.After(d)
		}
	}
	// Catch up on anything that changed between Start and the watch.
	reconcile()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-settled:
			settled = nil
			reconcile()
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("watcher closed")
			}
			m.opts.Logger.Error("watching the primary CNI config", "err", err)
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("watcher closed")
			}
			if readiness != "" && filepath.Clean(ev.Name) == filepath.Clean(readiness) && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				if err := m.Remove(); err != nil {
					m.opts.Logger.Error("remove Multus config", "path", m.confPath, "err", err)
				}
				return fmt.Errorf("%w: %s", ErrReadinessGone, readiness)
			}
			if filepath.Dir(ev.Name) == filepath.Clean(m.opts.AutoconfigDir) && isCandidate(filepath.Base(ev.Name)) {
				reconcile()
			}
		}
	}
}

// reconcileLogged reconciles and logs a failure; while a replacement
// settles it returns how long until it may be adopted.
func (m *Manager) reconcileLogged() (time.Duration, bool) {
	err := m.Reconcile()
	if d, ok := retryAfter(err); ok {
		m.opts.Logger.Info("primary CNI config gone; keeping the current Multus config for the settle period",
			"path", m.confPath, "generatedFrom", m.primary, "settlePeriod", m.opts.SettlePeriod, "reason", err)
		return d, true
	}
	if err != nil {
		m.opts.Logger.Error("primary CNI config unusable; keeping the current Multus config",
			"path", m.confPath, "generatedFrom", m.primary, "err", err)
	}
	return 0, false
}
