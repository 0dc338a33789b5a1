package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// ProcRun is one finished plugin process.
type ProcRun struct {
	Plugin    string
	Wall      time.Duration
	MaxRSSKiB int64 // peak RSS of the plugin itself; 0 unless measured through GNU time
	Err       error
}

// RunProcess executes path with env and stdin, as a container runtime
// executes a CNI plugin, and reports its wall time. A non-zero exit is an
// error that carries the plugin's CNI error object when it printed one.
//
// With timeBin (GNU time) set, the plugin runs under `time -f %M` and the
// run reports the plugin's peak RSS instead; the wall time then includes
// time's own fork and exec, so callers measure wall and RSS in separate
// passes. The detour is needed because Go starts children with vfork: the
// child's ru_maxrss starts from the PARENT's resident set at exec (Linux
// folds the old mm's high-water mark into the signal struct), so wait4 would
// report the harness's ~50 MiB for every plugin. GNU time forks from a 2 MiB
// process, which puts a floor of about 2 MiB under the figure instead.
func RunProcess(ctx context.Context, timeBin, path string, env []string, stdin []byte) (ProcRun, []byte, error) {
	argv0, args := path, []string(nil)
	var rssFile string
	if timeBin != "" {
		f, err := os.CreateTemp("", "mt-bench-rss-")
		if err != nil {
			return ProcRun{}, nil, err
		}
		rssFile = f.Name()
		f.Close()
		defer os.Remove(rssFile)
		argv0, args = timeBin, []string{"-f", "%M", "-o", rssFile, path}
	}
	cmd := exec.CommandContext(ctx, argv0, args...)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	run := ProcRun{Plugin: filepath.Base(path), Wall: time.Since(start)}
	if rssFile != "" {
		n, err := parseTimeRSS(rssFile)
		if err != nil && runErr == nil {
			runErr = err
		}
		run.MaxRSSKiB = n
	}
	if runErr != nil {
		run.Err = pluginError(path, runErr, stdout.Bytes(), stderr.Bytes())
		return run, stdout.Bytes(), run.Err
	}
	return run, stdout.Bytes(), nil
}

// parseTimeRSS reads GNU time's -o file; with a failing command it holds
// "Command exited with non-zero status N" before the figure.
func parseTimeRSS(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return ParseTimeRSS(data)
}

// ParseTimeRSS extracts the %M figure (KiB) from GNU time's output: the last
// non-empty line.
func ParseTimeRSS(data []byte) (int64, error) {
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	n, err := strconv.ParseInt(last, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("GNU time output %q: %w", data, err)
	}
	return n, nil
}

// pluginError prefers the CNI error object a failing plugin prints on stdout.
func pluginError(path string, runErr error, stdout, stderr []byte) error {
	var cniErr types.Error
	if len(stdout) > 0 && json.Unmarshal(stdout, &cniErr) == nil && cniErr.Msg != "" {
		return fmt.Errorf("%s: %w", filepath.Base(path), &cniErr)
	}
	msg := bytes.TrimSpace(stderr)
	if len(msg) == 0 {
		msg = bytes.TrimSpace(stdout)
	}
	if len(msg) > 512 {
		msg = msg[:512]
	}
	return fmt.Errorf("%s: %w: %s", filepath.Base(path), runErr, msg)
}

// recordingExec is the invoke.Exec libcni uses in the harness: it executes
// plugins exactly as libcni's own RawExec does and keeps each run's cost.
type recordingExec struct {
	timeBin string // set: measure each plugin's peak RSS (see RunProcess)
	mu      sync.Mutex
	runs    []ProcRun
}

var _ invoke.Exec = (*recordingExec)(nil)

func (e *recordingExec) ExecPlugin(ctx context.Context, pluginPath string, stdinData []byte, environ []string) ([]byte, error) {
	run, out, err := RunProcess(ctx, e.timeBin, pluginPath, environ, stdinData)
	e.mu.Lock()
	e.runs = append(e.runs, run)
	e.mu.Unlock()
	return out, err
}

func (e *recordingExec) FindInPath(plugin string, paths []string) (string, error) {
	return invoke.FindInPath(plugin, paths)
}

func (e *recordingExec) Decode(jsonBytes []byte) (version.PluginInfo, error) {
	var d version.PluginDecoder
	return d.Decode(jsonBytes)
}

// take returns the runs recorded since the last call and forgets them.
func (e *recordingExec) take() []ProcRun {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.runs
	e.runs = nil
	return out
}
