package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ProcStatus is what the harness reads from /proc/<pid>/status.
type ProcStatus struct {
	RSSKiB  int64 // VmRSS: resident set now
	HWMKiB  int64 // VmHWM: peak resident set since start or the last clear_refs reset
	AnonKiB int64 // RssAnon: heap, stacks (what the Go runtime holds)
	FileKiB int64 // RssFile: mapped binary and libraries (shared with other processes of the same file)
}

// ParseStatus extracts VmRSS and VmHWM from the contents of /proc/<pid>/status.
// A kernel thread or zombie has neither line; that is an error because the
// harness only asks about processes it expects to be alive.
func ParseStatus(data []byte) (ProcStatus, error) {
	var st ProcStatus
	var seenRSS bool
	for line := range bytes.Lines(data) {
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(key) {
		case "VmRSS":
			dst, seenRSS = &st.RSSKiB, true
		case "VmHWM":
			dst = &st.HWMKiB
		case "RssAnon":
			dst = &st.AnonKiB
		case "RssFile":
			dst = &st.FileKiB
		default:
			continue
		}
		fields := strings.Fields(string(val))
		if len(fields) != 2 || fields[1] != "kB" {
			return ProcStatus{}, fmt.Errorf("status line %q: want \"<n> kB\"", bytes.TrimSpace(line))
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return ProcStatus{}, fmt.Errorf("status line %q: %w", bytes.TrimSpace(line), err)
		}
		*dst = n
	}
	if !seenRSS {
		return ProcStatus{}, errors.New("status has no VmRSS line")
	}
	return st, nil
}

// StatLine is the part of /proc/<pid>/stat the sampler uses.
type StatLine struct {
	PID      int
	Comm     string
	PPID     int
	RSSPages int64
	// CPU in clock ticks: the process's own (utime+stime) and that of its
	// children it has already waited for (cutime+cstime).
	CPUTicks      int64
	ChildCPUTicks int64
}

// ParseStat parses /proc/<pid>/stat. The command name sits in parentheses and
// may itself contain spaces and parentheses, so the fields are counted from
// the LAST ')'.
func ParseStat(data []byte) (StatLine, error) {
	s := string(bytes.TrimSpace(data))
	open := strings.IndexByte(s, '(')
	closing := strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return StatLine{}, fmt.Errorf("stat %q: no (comm)", s)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return StatLine{}, fmt.Errorf("stat pid: %w", err)
	}
	// After "(comm) ": state(3) ppid(4) ... rss(24); rest[0] is field 3.
	rest := strings.Fields(s[closing+1:])
	if len(rest) < 22 {
		return StatLine{}, fmt.Errorf("stat of pid %d: %d fields after comm, want >= 22", pid, len(rest))
	}
	ppid, err := strconv.Atoi(rest[1])
	if err != nil {
		return StatLine{}, fmt.Errorf("stat of pid %d: ppid: %w", pid, err)
	}
	nums := make([]int64, 4) // utime stime cutime cstime: fields 14-17
	for i := range nums {
		if nums[i], err = strconv.ParseInt(rest[11+i], 10, 64); err != nil {
			return StatLine{}, fmt.Errorf("stat of pid %d: cpu field %d: %w", pid, 14+i, err)
		}
	}
	rss, err := strconv.ParseInt(rest[21], 10, 64)
	if err != nil {
		return StatLine{}, fmt.Errorf("stat of pid %d: rss: %w", pid, err)
	}
	return StatLine{PID: pid, Comm: s[open+1 : closing], PPID: ppid, RSSPages: rss,
		CPUTicks: nums[0] + nums[1], ChildCPUTicks: nums[2] + nums[3]}, nil
}

// Stat reads /proc/<pid>/stat.
func (p ProcFS) Stat(pid int) (StatLine, error) {
	data, err := os.ReadFile(filepath.Join(p.Root, strconv.Itoa(pid), "stat"))
	if err != nil {
		return StatLine{}, err
	}
	return ParseStat(data)
}

// ProcFS reads process information below Root (normally /proc); tests point
// it at a fake tree.
type ProcFS struct {
	Root     string
	PageSize int64
}

// HostProc is the real /proc.
func HostProc() ProcFS { return ProcFS{Root: "/proc", PageSize: int64(os.Getpagesize())} }

// Status reads /proc/<pid>/status.
func (p ProcFS) Status(pid int) (ProcStatus, error) {
	data, err := os.ReadFile(filepath.Join(p.Root, strconv.Itoa(pid), "status"))
	if err != nil {
		return ProcStatus{}, err
	}
	st, err := ParseStatus(data)
	if err != nil {
		return ProcStatus{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	return st, nil
}

// ResetPeak resets VmHWM of pid to its current RSS ("5" into clear_refs,
// Linux >= 4.0), so a later VmHWM is the peak of the window since the reset.
func (p ProcFS) ResetPeak(pid int) error {
	return os.WriteFile(filepath.Join(p.Root, strconv.Itoa(pid), "clear_refs"), []byte("5"), 0)
}

// Snapshot reads the stat line of every process. Processes that exit while
// the directory is being read are skipped: short-lived delegates do that.
func (p ProcFS) Snapshot() ([]StatLine, error) {
	entries, err := os.ReadDir(p.Root)
	if err != nil {
		return nil, err
	}
	out := make([]StatLine, 0, len(entries))
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(p.Root, e.Name(), "stat"))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				continue
			}
			// ESRCH and friends from a process that died mid-read.
			continue
		}
		st, err := ParseStat(data)
		if err != nil {
			continue
		}
		out = append(out, st)
	}
	return out, nil
}

// SubtreeRSS sums the RSS (KiB) of every descendant of root in snap, not
// counting root itself nor anything inside the subtrees of exclude. It also
// returns how many processes were counted.
func SubtreeRSS(snap []StatLine, root int, exclude map[int]bool, pageSize int64) (kib int64, count int) {
	children := make(map[int][]StatLine, len(snap))
	for _, s := range snap {
		children[s.PPID] = append(children[s.PPID], s)
	}
	stack := []int{root}
	for len(stack) > 0 {
		pid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range children[pid] {
			if exclude[c.PID] || c.PID == root {
				continue
			}
			kib += c.RSSPages * pageSize / 1024
			count++
			stack = append(stack, c.PID)
		}
	}
	return kib, count
}
