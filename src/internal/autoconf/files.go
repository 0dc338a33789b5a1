package autoconf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/multus-thick/multus-thick/src/internal/atomicfile"
)

// writeIfChanged writes only when the content differs, so an unchanged
// primary causes no rename (and no runtime reload).
func writeIfChanged(path string, data []byte, perm fs.FileMode) (bool, error) {
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, data) {
		return false, nil
	}
	// The container runtime loads these after a reboot: fsync.
	if err := atomicfile.Write(path, data, perm, atomicfile.Sync); err != nil {
		return false, err
	}
	return true, nil
}

// InstallUserConfig copies a user-provided Multus config (non-auto mode)
// into dir under its own name, atomically. Copying a file onto itself is a
// no-op.
func InstallUserConfig(src, dir string) (string, error) {
	dst := filepath.Join(dir, filepath.Base(src))
	data, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("read Multus config: %w", err)
	}
	if filepath.Clean(src) == dst {
		return dst, nil
	}
	if _, err := writeIfChanged(dst, data, 0o600); err != nil {
		return "", err
	}
	return dst, nil
}

// WaitForFile polls for path every interval until it exists or timeout
// passes (upstream: 1 s and 45 s for the readiness indicator file).
func WaitForFile(ctx context.Context, path string, interval, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		_, err := os.Stat(path)
		if err == nil {
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("readiness indicator file %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("readiness indicator file %s did not appear within %s", path, timeout)
		case <-time.After(interval):
		}
	}
}

// RemoveFile removes path; a missing file is not an error.
func RemoveFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
