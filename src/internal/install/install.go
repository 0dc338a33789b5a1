// Package install copies binaries into the host's CNI bin dir atomically:
// a temp file in the destination directory, fsynced, then renamed over the
// target. A runtime may be executing the old shim at that moment (after a
// reboot it blocks waiting for the daemon); a plain copy then fails with
// "text file busy" (upstream #1221), a rename never does.
package install

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// File installs src at dst with mode 0755.
func File(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("install %s: %w", src, err)
	}
	defer in.Close()
	dir := filepath.Dir(dst)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".install-*")
	if err != nil {
		return fmt.Errorf("install %s into %s: %w", src, dir, err)
	}
	// Remove the temp file on every failure path; after the rename it is gone.
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, in); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("install %s: copy: %w", src, err)
	}
	if err = tmp.Chmod(0o755); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("install %s: chmod: %w", src, err)
	}
	if err = tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("install %s: sync: %w", src, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("install %s: close: %w", src, err)
	}
	if err = os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("install %s: rename into %s: %w", src, dst, err)
	}
	return nil
}

// Files installs each src into dstDir under its own base name. It stops at
// the first failure; files already installed stay (each one is whole).
func Files(dstDir string, srcs []string) error {
	if len(srcs) == 0 {
		return errors.New("nothing to install: name at least one file")
	}
	st, err := os.Stat(dstDir)
	if err != nil {
		return fmt.Errorf("destination dir: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("destination %s is not a directory", dstDir)
	}
	for _, src := range srcs {
		if err := File(src, filepath.Join(dstDir, filepath.Base(src))); err != nil {
			return err
		}
	}
	return nil
}
