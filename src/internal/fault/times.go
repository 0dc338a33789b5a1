package fault

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// StatePath is where the "times" counters of a recordFile live.
func StatePath(recordFile string) string { return recordFile + ".state" }

// countCall counts one call of key and reports whether it is among the
// first limit calls (the fault applies). Concurrent plugin processes
// serialize on an flock of the state file.
func countCall(recordFile, key string, limit int) (bool, error) {
	if recordFile == "" {
		return false, errors.New(`"times" needs a "recordFile" (the counts are kept next to it)`)
	}
	f, err := os.OpenFile(StatePath(recordFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return false, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return false, err
	}
	counts := map[string]int{}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &counts); err != nil {
			return false, fmt.Errorf("%s: %w", f.Name(), err)
		}
	}
	counts[key]++
	out, err := json.Marshal(counts)
	if err != nil {
		return false, err
	}
	if err := f.Truncate(0); err != nil {
		return false, err
	}
	if _, err := f.WriteAt(out, 0); err != nil {
		return false, err
	}
	return counts[key] <= limit, nil
}
