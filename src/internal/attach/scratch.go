package attach

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/containernetworking/cni/pkg/utils"

	"github.com/multus-thick/multus-thick/src/internal/atomicfile"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// scratchPath is upstream's delegate cache <cniDir>/<containerID>. The
// container ID was validated (no path separators) before this is called.
func scratchPath(cniDir, containerID string) string {
	return filepath.Join(cniDir, containerID)
}

func validContainerID(id string) error {
	if cerr := utils.ValidateContainerID(id); cerr != nil {
		return fmt.Errorf("%w: container ID %q: %s", ErrInvalidRequest, id, cerr.Msg)
	}
	return nil
}

// writeScratch writes the delegate cache atomically (temp file + rename)
// so that a crash never leaves a truncated file that DEL would find corrupt.
func writeScratch(cniDir, containerID string, ds []*netconf.Delegate) error {
	return writeRecord(scratchPath(cniDir, containerID), ds)
}

// writeRecord is every write of a scratch cache (ADD, the marks of DEL and
// rollback, hot-plug, the background retry): the delegates, atomically.
func writeRecord(path string, ds []*netconf.Delegate) error {
	data, err := netconf.MarshalCache(ds)
	if err != nil {
		return err
	}
	return writeCache(path, data)
}

// writeCache writes one of the daemon's cache files (the scratch cache, a
// libcni result cache) atomically, creating its directory. Without fsync:
// see atomicfile.NoSync for why a cache can do without.
func writeCache(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create cache dir: %w", err)
	}
	return atomicfile.Write(path, data, 0o600, atomicfile.NoSync)
}

// scratchState says what readScratch found.
type scratchState int

const (
	scratchOK scratchState = iota
	scratchMissing
	scratchCorrupt
)

// readScratch reads the delegate cache. A file that exists but cannot be
// decoded is scratchCorrupt with the decode error.
func readScratch(path string) ([]*netconf.Delegate, scratchState, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, scratchMissing, nil
	}
	if err != nil {
		return nil, scratchMissing, fmt.Errorf("read delegate cache: %w", err)
	}
	ds, err := netconf.UnmarshalCache(data)
	if err == nil && len(ds) == 0 {
		err = errors.New("no delegates in the cache")
	}
	if err != nil {
		return nil, scratchCorrupt, err
	}
	return ds, scratchOK, nil
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
