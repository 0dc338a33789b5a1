// Package atomicfile replaces a file so that a reader sees the old content
// or the new, never a part of it: the data goes to a temp file in the same
// directory, which is then renamed over the path. It is the one way src/
// writes a file that something else may read at any moment (the runtime,
// a DEL, a recorder's reader).
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Durability says whether the data reaches the disk before the rename.
// The rename alone already keeps readers from seeing a partial file; what
// fsync adds is that after a power loss the path holds the old or the new
// content whole, rather than possibly an empty file. It costs milliseconds
// per write on a busy disk, so each caller picks it by what a lost write
// means for that file.
type Durability int

const (
	// NoSync renames without fsync. For state that does not outlive the
	// node's sandboxes or that its reader rebuilds when it is unreadable:
	// the scratch and result caches (a cache lost to a power loss reads as
	// corrupt and DEL falls back to the resolver; the sandboxes are gone
	// anyway) and test records. fsync would cost several milliseconds per
	// ADD.
	NoSync Durability = iota
	// Sync fsyncs the temp file before the rename. For files another
	// program loads after a reboot and cannot rebuild: the CNI config the
	// container runtime reads.
	Sync
)

// Write replaces path with data, mode perm. The temp file is
// ".<name>.tmp-<random>" next to path: a dot file without the path's
// suffix, so neither the runtime nor a config watch picks it up. On failure
// the temp file is removed and path is untouched. The directory must exist.
func Write(path string, data []byte, perm fs.FileMode, d Durability) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	if err := fill(tmp, data, perm, d); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// fill writes, chmods, optionally syncs and always closes f.
func fill(f *os.File, data []byte, perm fs.FileMode, d Durability) error {
	_, err := f.Write(data)
	if err == nil {
		// CreateTemp makes the file 0600; perm may be wider or the same.
		err = f.Chmod(perm)
	}
	if err == nil && d == Sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
