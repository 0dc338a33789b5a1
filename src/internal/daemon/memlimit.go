package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/multus-thick/multus-thick/src/internal/config"
)

// memoryLimitShare is the part of the container's memory limit given to
// the Go heap's soft limit: the rest covers the binary's mapped pages,
// goroutine stacks and what the GC lets through before it reacts.
const memoryLimitShare = 0.9

// noCgroupLimit: cgroup v1 reports "no limit" as a huge page-aligned
// number; anything at or above this is treated as unlimited.
const noCgroupLimit = 1 << 62

// memoryLimit decides the Go memory limit: an explicit memoryLimit size
// wins; "off" and a GOMEMLIMIT in the environment (which the runtime has
// already applied) leave it alone; "auto" takes 90% of the cgroup's
// limit (v2 memory.max, else v1 memory.limit_in_bytes under cgroupRoot).
// It returns the limit to set (0: none) and where it came from.
func memoryLimit(cfg *config.Config, getenv func(string) string, cgroupRoot string) (int64, string, error) {
	n, err := cfg.MemoryLimitBytes()
	switch {
	case err != nil:
		return 0, "", err
	case n > 0:
		return n, "memoryLimit", nil
	case n < 0:
		return 0, "memoryLimit off", nil
	case getenv("GOMEMLIMIT") != "":
		return 0, "GOMEMLIMIT", nil
	}
	limit, err := cgroupMemoryLimit(cgroupRoot)
	if err != nil {
		return 0, "", err
	}
	if limit == 0 {
		return 0, "no cgroup memory limit", nil
	}
	return int64(float64(limit) * memoryLimitShare), "cgroup", nil
}

// cgroupMemoryLimit reads the memory limit of the daemon's cgroup; 0 means
// none. Inside a container the cgroup namespace makes the container's own
// cgroup the root of the mount.
func cgroupMemoryLimit(root string) (int64, error) {
	for _, f := range []string{"memory.max", "memory/memory.limit_in_bytes"} {
		data, err := os.ReadFile(filepath.Join(root, f))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("cgroup memory limit: %w", err)
		}
		v := strings.TrimSpace(string(data))
		if v == "max" {
			return 0, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cgroup memory limit %s: %q is not a number", f, v)
		}
		if n <= 0 || n >= noCgroupLimit {
			return 0, nil
		}
		return n, nil
	}
	return 0, nil
}

// applyMemoryLimit sets the Go memory limit as memoryLimit decides; a
// cgroup that cannot be read is logged, not fatal.
func applyMemoryLimit(cfg *config.Config, env Env, log *slog.Logger) {
	n, source, err := memoryLimit(cfg, env.Getenv, env.CgroupRoot)
	if err != nil {
		log.Warn("Go memory limit not set", "err", err)
		return
	}
	if n > 0 {
		debug.SetMemoryLimit(n)
	}
	log.Info("Go memory limit", "bytes", n, "source", source)
}
