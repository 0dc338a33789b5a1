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
func File(src, dst string) error {
	tmp, err := stage(src, dst)
	if err != nil {
		return err
	}
	return commit(src, tmp, dst)
}

// Files installs each src into dstDir under its own base name, as a set:
// every file is staged (copied to a temp file next to its target) before
// any target is replaced, so a missing or unreadable source, a full disk or
// a bad destination leaves the directory as it was, temp files removed.
// Only a failing rename in the last step (the same directory, so in
// practice never) can leave some targets new and the rest old; each file
// is whole either way.
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
	staged := make([]string, 0, len(srcs))
	for _, src := range srcs {
		tmp, err := stage(src, filepath.Join(dstDir, filepath.Base(src)))
		if err != nil {
			for _, t := range staged {
				_ = os.Remove(t)
			}
			return err
		}
		staged = append(staged, tmp)
	}
	for i, src := range srcs {
		if err := commit(src, staged[i], filepath.Join(dstDir, filepath.Base(src))); err != nil {
			for _, t := range staged[i+1:] {
				_ = os.Remove(t)
			}
			return err
		}
	}
	return nil
}

// stage copies src into a fsynced temp file, mode 0755, in dst's directory
// and returns its path. On failure nothing is left behind.
func stage(src, dst string) (_ string, err error) {
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("install %s: %w", src, err)
	}
	defer in.Close()
	dir := filepath.Dir(dst)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".install-*")
	if err != nil {
		return "", fmt.Errorf("install %s into %s: %w", src, dir, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, in); err != nil {
		return "", fmt.Errorf("install %s: copy: %w", src, err)
	}
	if err = tmp.Chmod(0o755); err != nil {
		return "", fmt.Errorf("install %s: chmod: %w", src, err)
	}
	if err = tmp.Sync(); err != nil {
		return "", fmt.Errorf("install %s: sync: %w", src, err)
	}
	if err = tmp.Close(); err != nil {
		return "", fmt.Errorf("install %s: close: %w", src, err)
	}
	return tmp.Name(), nil
}

// commit renames a staged temp file over dst; on failure the temp file is
// removed.
func commit(src, tmp, dst string) error {
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("install %s: rename into %s: %w", src, dst, err)
	}
	return nil
}
