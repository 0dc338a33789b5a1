package repro

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/multus-thick/multus-thick/src/api"
)

// The recorder's on-node layout, from src/api (src/internal/callrec writes it;
// TestRecorderContract builds the real recorder and reads what it writes with this code).
const (
	recorderPrefix = api.CallRecordPrefix
	recordRoot     = api.CallRecordRoot
	fileMeta       = api.CallFileMeta
	fileStdin      = api.CallFileStdin
	fileEnv        = api.CallFileEnv
	fileStdout     = api.CallFileStdout
	fileStderr     = api.CallFileStderr
	fileExit       = api.CallFileExit
)

// CallMeta is the recorder's meta.json, CallExit its exit.json.
type (
	CallMeta = api.CallMeta
	CallExit = api.CallExit
)

// Call is one recorded delegate call.
type Call struct {
	Dir    string // the call's directory
	Meta   CallMeta
	Exit   *CallExit // nil: the call never ended (killed with the recorder)
	Stdin  []byte
	Env    []string
	Stdout []byte
	Stderr []byte
}

// ReadCalls reads every call directory under dir, oldest first.
func ReadCalls(dir string) ([]Call, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("calls: %w", err)
	}
	var calls []Call
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		c, err := readCall(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		calls = append(calls, c)
	}
	sort.SliceStable(calls, func(i, j int) bool {
		if !calls[i].Meta.Start.Equal(calls[j].Meta.Start) {
			return calls[i].Meta.Start.Before(calls[j].Meta.Start)
		}
		return calls[i].Dir < calls[j].Dir
	})
	return calls, nil
}

func readCall(dir string) (Call, error) {
	c := Call{Dir: dir}
	meta, err := os.ReadFile(filepath.Join(dir, fileMeta))
	if err != nil {
		return c, fmt.Errorf("call %s: %w", dir, err)
	}
	if err := json.Unmarshal(meta, &c.Meta); err != nil {
		return c, fmt.Errorf("call %s: %s: %w", dir, fileMeta, err)
	}
	if exit, err := os.ReadFile(filepath.Join(dir, fileExit)); err == nil {
		c.Exit = &CallExit{}
		if err := json.Unmarshal(exit, c.Exit); err != nil {
			return c, fmt.Errorf("call %s: %s: %w", dir, fileExit, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return c, fmt.Errorf("call %s: %w", dir, err)
	}
	// The output files may be missing when the recorder died early; absent means empty.
	c.Stdin, _ = os.ReadFile(filepath.Join(dir, fileStdin))
	c.Stdout, _ = os.ReadFile(filepath.Join(dir, fileStdout))
	c.Stderr, _ = os.ReadFile(filepath.Join(dir, fileStderr))
	env, _ := os.ReadFile(filepath.Join(dir, fileEnv))
	for _, l := range strings.Split(string(env), "\n") {
		if l != "" {
			c.Env = append(c.Env, l)
		}
	}
	return c, nil
}

// Failed reports whether the call did not end with exit code 0.
func (c Call) Failed() bool { return c.Exit == nil || c.Exit.Code != 0 }

// CNIError is the error a plugin prints on stdout when it fails.
type CNIError struct {
	Code    int    `json:"code"`
	Msg     string `json:"msg"`
	Details string `json:"details,omitempty"`
}

// CNIError returns the CNI error on the call's stdout, if it failed with one.
func (c Call) CNIError() *CNIError {
	return parseCNIError(c.Stdout)
}

func parseCNIError(stdout []byte) *CNIError {
	e := &CNIError{}
	if json.Unmarshal(stdout, e) != nil || (e.Code == 0 && e.Msg == "") {
		return nil
	}
	return e
}

// Error describes how a failed call failed, the way a contributor would want it first:
// the plugin's CNI error, else its stderr, else how it ended.
func (c Call) Error(delegateTimeout time.Duration) string {
	if c.Exit == nil {
		return fmt.Sprintf("never finished: no exit was recorded, so the process was killed, which is what the daemon's delegate deadline does (delegateTimeout %s)", delegateTimeout)
	}
	if c.Exit.Error != "" {
		return "the plugin could not be run: " + c.Exit.Error
	}
	how := fmt.Sprintf("exit %d", c.Exit.Code)
	if c.Exit.Signal != "" {
		how = "killed by signal " + c.Exit.Signal
	}
	if e := c.CNIError(); e != nil {
		s := fmt.Sprintf("%s, CNI error %d: %s", how, e.Code, e.Msg)
		if e.Details != "" {
			s += " (" + e.Details + ")"
		}
		return s
	}
	if tail := lastLines(string(c.Stderr), 3); tail != "" {
		return how + ", stderr: " + tail
	}
	if out := strings.TrimSpace(string(c.Stdout)); out != "" {
		return how + ", stdout (not a CNI error): " + truncate(out, 200)
	}
	return how + " with no output"
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return truncate(strings.Join(lines, " | "), 300)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// ContainerIDs returns the distinct container IDs of calls, in first-seen order.
func ContainerIDs(calls []Call) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range calls {
		if id := c.Meta.ContainerID; id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// FaultStateFiles lists the counter files of cni-fault's "times" (<recordFile>.state, see
// src/internal/fault) that the calls' configs name, once each and sorted. cni-fault counts
// calls per container ID there, and a replay re-runs the recorded container IDs: without
// a reset, a DEL scripted to fail once would already count as done and succeed.
func FaultStateFiles(calls []Call) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range calls {
		var conf struct {
			RecordFile string `json:"recordFile"`
		}
		// A config that does not parse names no recordFile; the call itself reports it.
		if json.Unmarshal(c.Stdin, &conf) != nil || !filepath.IsAbs(conf.RecordFile) {
			continue
		}
		if p := conf.RecordFile + ".state"; !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}
