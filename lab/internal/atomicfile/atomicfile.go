// Package atomicfile is the lab's one way to replace a file: whoever reads the path sees the
// old file or the whole new one, never a half-written one, and a failed write leaves
// nothing behind.
//
// The lab's caches (binaries, rootfs and image tarballs) count as built when their file
// exists, so a half-written file must never get their name; the file is written under a
// temporary name in the same directory (a rename is only atomic within one file system)
// and renamed when complete.
//
// Whether the data also reaches the disk before the rename is the caller's choice, the
// Policy: without a sync a power loss right after the rename can leave the new name on an
// empty or short file (the rename's metadata may reach the disk before the data), which a
// cache that trusts existence would then keep using. The sync costs a flush per file,
// which matters only for files written on a hot path.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
)

// Policy says whether a replacement is flushed to disk before it takes the path's name.
type Policy int

const (
	// Durable flushes the new file, then renames it, then flushes the directory: after a
	// crash the path holds the old file or the whole new one. For anything that is trusted
	// because it exists (caches, installed programs).
	Durable Policy = iota
	// NotDurable only renames: readers never see a partial file, but a crash may lose the
	// new data. For files that do not outlive a crash anyway (a container's runtime spec)
	// and are written on a path where a flush would cost every call.
	NotDurable
)

func (p Policy) String() string {
	switch p {
	case Durable:
		return "durable"
	case NotDurable:
		return "not durable"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

var seq atomic.Uint64

// TempName is a fresh name next to path for its replacement: in the same directory,
// hidden, unique to this process and call.
func TempName(path string) string {
	dir, base := filepath.Split(path)
	return filepath.Join(dir, fmt.Sprintf(".%s.%d-%d.tmp", base, os.Getpid(), seq.Add(1)))
}

// Replace calls write with a temporary name next to path; write creates that file (often
// by running a tool with it as its output). Replace then gives it path's name under
// policy. When write or the rename fails, the temporary file is removed and path is
// left as it was.
func Replace(path string, policy Policy, write func(tmp string) error) error {
	tmp := TempName(path)
	if err := write(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := commit(tmp, path, policy); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

// WriteFile replaces path with data, its permissions perm.
func WriteFile(path string, data []byte, perm os.FileMode, policy Policy) error {
	return Replace(path, policy, func(tmp string) error {
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if err != nil {
			return err
		}
		_, werr := f.Write(data)
		// OpenFile's perm passes through the umask; the caller asked for perm.
		if werr == nil {
			werr = f.Chmod(perm)
		}
		return errors.Join(werr, f.Close())
	})
}

func commit(tmp, path string, policy Policy) error {
	if policy == Durable {
		if err := syncPath(tmp); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if policy == Durable {
		return syncPath(filepath.Dir(path))
	}
	return nil
}

func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	serr := f.Sync()
	if cerr := f.Close(); serr == nil {
		serr = cerr
	}
	if serr != nil {
		return fmt.Errorf("sync %s: %w", p, serr)
	}
	return nil
}
