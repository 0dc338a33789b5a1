package delegate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	cnitypes "github.com/containernetworking/cni/pkg/types"
)

// DefaultMaxPerPod bounds the plugin processes one pod may have running at
// once. One ADD runs its delegates one after another, so a well-behaved pod
// needs one; the rest covers an overlapping DEL of an old sandbox and
// /delegate hot-plugs, while a pod that asks for more cannot take the whole
// pool (maxConcurrentDelegates) from the node's other pods.
const DefaultMaxPerPod = 4

// maxAncestry bounds the parent walk of InDelegateOf.
const maxAncestry = 64

// inflight tracks the plugin processes that are running: by PID, for the
// server's self-call check, and by pod, for the per-pod bound.
type inflight struct {
	mu    sync.Mutex
	byPID map[int]string // PID (= process group) -> CNI_CONTAINERID
	byPod map[string]int // namespace/name -> running plugin processes
}

// call is what ExecPlugin needs from a plugin's environment.
type call struct {
	command, containerID, pod string
}

func callOf(environ []string) call {
	var c call
	var ns, name string
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "CNI_COMMAND":
			c.command = v
		case "CNI_CONTAINERID":
			c.containerID = v
		case "CNI_ARGS":
			for _, pair := range strings.Split(v, ";") {
				pk, pv, _ := strings.Cut(pair, "=")
				switch pk {
				case "K8S_POD_NAMESPACE":
					ns = pv
				case "K8S_POD_NAME":
					name = pv
				}
			}
		}
	}
	if ns != "" && name != "" {
		c.pod = ns + "/" + name
	}
	return c
}

// enter counts a plugin process of c's pod, or refuses it when the pod is
// at its bound. DEL is counted but never refused: it is cleanup, and a
// refused DEL would leave the pod's resources behind.
func (f *inflight) enter(c call, max int) (func(), error) {
	if c.pod == "" {
		return func() {}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byPod == nil {
		f.byPod = map[string]int{}
	}
	if n := f.byPod[c.pod]; n >= max && c.command != "DEL" {
		return nil, &cnitypes.Error{
			Code: cnitypes.ErrTryAgainLater,
			Msg:  fmt.Sprintf("pod %s already has %d delegate calls in flight, the limit (maxDelegatesPerPod)", c.pod, n),
		}
	}
	f.byPod[c.pod]++
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.byPod[c.pod]--; f.byPod[c.pod] <= 0 {
			delete(f.byPod, c.pod)
		}
	}, nil
}

func (f *inflight) started(pid int, containerID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byPID == nil {
		f.byPID = map[int]string{}
	}
	f.byPID[pid] = containerID
}

func (f *inflight) finished(pid int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.byPID, pid)
}

// roots returns the PIDs of the running plugins of containerID.
func (f *inflight) roots(containerID string) map[int]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out map[int]bool
	for pid, id := range f.byPID {
		if id == containerID {
			if out == nil {
				out = map[int]bool{}
			}
			out[pid] = true
		}
	}
	return out
}

// InDelegateOf reports whether process pid runs inside a delegate call of
// containerID: it is one of the plugin processes this Exec started for
// that container, or a descendant (by parent chain, or by process group:
// every plugin leads its own group). The server asks this for a request
// that arrives on the socket, so that a delegate calling back into the
// daemon for the container whose lock its caller holds is refused at once
// instead of waiting for that lock until delegateTimeout. The fast path,
// no plugin of the container running, reads nothing.
func (e *Exec) InDelegateOf(pid int, containerID string) bool {
	roots := e.running.roots(containerID)
	if len(roots) == 0 || pid <= 0 {
		return false
	}
	proc := e.proc
	if proc == "" {
		proc = "/proc"
	}
	self := os.Getpid()
	for i := 0; i < maxAncestry && pid > 1 && pid != self; i++ {
		if roots[pid] {
			return true
		}
		ppid, pgid, err := readStat(proc, pid)
		if err != nil {
			return false
		}
		if roots[pgid] {
			return true
		}
		pid = ppid
	}
	return false
}

// readStat returns the parent PID and process group of pid from
// /proc/<pid>/stat ("pid (comm) state ppid pgrp ..."; comm may contain
// spaces and parentheses, so fields are counted after the last ')').
func readStat(proc string, pid int) (ppid, pgid int, err error) {
	data, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("pid %d: malformed stat", pid)
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 3 {
		return 0, 0, fmt.Errorf("pid %d: malformed stat", pid)
	}
	if ppid, err = strconv.Atoi(fields[1]); err != nil {
		return 0, 0, fmt.Errorf("pid %d: stat ppid: %w", pid, err)
	}
	if pgid, err = strconv.Atoi(fields[2]); err != nil {
		return 0, 0, fmt.Errorf("pid %d: stat pgrp: %w", pid, err)
	}
	return ppid, pgid, nil
}

// Locator finds plugin files as a Runner built with Exec and ExtraPaths
// finds them (resolve's self-call check compares them with the shim).
type Locator struct {
	Exec       *Exec
	ExtraPaths []string
}

// Locate returns the file binDir's plugin would be executed from.
func (l Locator) Locate(binDir, plugin string) (os.FileInfo, error) {
	e := l.Exec
	if e == nil {
		e = NewExec()
	}
	paths := append([]string{binDir}, l.ExtraPaths...)
	path, err := e.FindInPath(plugin, paths)
	if err != nil {
		return nil, err
	}
	return os.Stat(filepath.Join(e.Root, path))
}
