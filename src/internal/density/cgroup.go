package density

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// cgroupRef names a container's cgroup inside its kind node: on cgroup v1
// one path per controller, on v2 one unified path. The paths are those of
// /proc/<pid>/cgroup inside the node, which match /sys/fs/cgroup there
// because the node runs in its own cgroup namespace.
type cgroupRef struct {
	v2      bool
	cpuacct string // v1 cpuacct path, or the v2 path
	memory  string // v1 memory path (unused on v2)
}

// parseProcCgroup reads /proc/<pid>/cgroup. v1 wins when its cpuacct and
// memory controllers are both listed (hybrid hosts list "0::" as well).
func parseProcCgroup(data []byte) (cgroupRef, error) {
	var ref cgroupRef
	unified := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			switch ctrl {
			case "cpuacct":
				ref.cpuacct = parts[2]
			case "memory":
				ref.memory = parts[2]
			case "":
				if parts[0] == "0" {
					unified = parts[2]
				}
			}
		}
	}
	switch {
	case ref.cpuacct != "" && ref.memory != "":
		return ref, nil
	case unified != "":
		return cgroupRef{v2: true, cpuacct: unified}, nil
	default:
		return cgroupRef{}, fmt.Errorf("no cpuacct+memory (v1) or unified (v2) cgroup in %q", strings.TrimSpace(string(data)))
	}
}

// usageScript prints "<cpu nanoseconds> <peak memory bytes>".
func (c cgroupRef) usageScript() string {
	if c.v2 {
		d := shQuote("/sys/fs/cgroup" + c.cpuacct)
		return fmt.Sprintf(`echo $(( $(sed -n 's/^usage_usec //p' %s/cpu.stat) * 1000 )) $(cat %s/memory.peak)`, d, d)
	}
	return fmt.Sprintf("echo $(cat %s) $(cat %s)",
		shQuote("/sys/fs/cgroup/cpuacct"+c.cpuacct+"/cpuacct.usage"), shQuote("/sys/fs/cgroup/memory"+c.memory+"/memory.max_usage_in_bytes"))
}

// resetPeakScript starts a new peak-memory window. On v2, memory.peak is
// only reset per open file, so the peak there counts from container start.
func (c cgroupRef) resetPeakScript() string {
	if c.v2 {
		return "true"
	}
	return "echo 0 > " + shQuote("/sys/fs/cgroup/memory"+c.memory+"/memory.max_usage_in_bytes")
}

// usage is one reading of a container's cgroup.
type usage struct {
	cpuNS     int64
	peakBytes int64
}

func parseUsage(out []byte) (usage, error) {
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return usage{}, fmt.Errorf("cgroup usage: want two numbers, got %q", strings.TrimSpace(string(out)))
	}
	cpu, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return usage{}, fmt.Errorf("cgroup cpu usage %q: %w", f[0], err)
	}
	mem, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return usage{}, fmt.Errorf("cgroup peak memory %q: %w", f[1], err)
	}
	return usage{cpuNS: cpu, peakBytes: mem}, nil
}

// shQuote quotes s for a POSIX shell.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
