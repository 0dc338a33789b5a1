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
	Logger                    *slog.Logger
}

// Manager owns 00-multus.conf in auto mode.
type Manager struct {
	opts     Options
	confPath string
	// primary is the path the current file was generated from.
	primary string
}

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
	if err := WriteFileAtomic(path, out, mode); err != nil {
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
	// Catch up on anything that changed between Start and the watch.
	m.reconcileLogged()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("watcher closed")
			}
			m.opts.Logger.Error("watching the primary CNI config", "error", err)
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("watcher closed")
			}
			if readiness != "" && filepath.Clean(ev.Name) == filepath.Clean(readiness) && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				if err := m.Remove(); err != nil {
					m.opts.Logger.Error("remove Multus config", "path", m.confPath, "error", err)
				}
				return fmt.Errorf("%w: %s", ErrReadinessGone, readiness)
			}
			if filepath.Dir(ev.Name) == filepath.Clean(m.opts.AutoconfigDir) && isCandidate(filepath.Base(ev.Name)) {
				m.reconcileLogged()
			}
		}
	}
}

func (m *Manager) reconcileLogged() {
	if err := m.Reconcile(); err != nil {
		m.opts.Logger.Error("primary CNI config unusable; keeping the current Multus config",
			"path", m.confPath, "generatedFrom", m.primary, "error", err)
	}
}
