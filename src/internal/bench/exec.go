package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// ProcRun is one finished plugin process.
type ProcRun struct {
	Plugin    string
	Wall      time.Duration
	MaxRSSKiB int64 // wait4's ru_maxrss (KiB on Linux)
	Err       error
}

// RunProcess executes path with env and stdin, like a container runtime
// executes a CNI plugin, and reports its wall time and peak RSS from the
// rusage of wait4. A non-zero exit is an error that carries the plugin's CNI
// error object when it printed one.
func RunProcess(ctx context.Context, path string, env []string, stdin []byte) (ProcRun, []byte, error) {
	cmd := exec.CommandContext(ctx, path)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	run := ProcRun{Plugin: filepath.Base(path), Wall: time.Since(start)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			run.MaxRSSKiB = ru.Maxrss
		}
	}
	if runErr != nil {
		run.Err = pluginError(path, runErr, stdout.Bytes(), stderr.Bytes())
		return run, stdout.Bytes(), run.Err
	}
	return run, stdout.Bytes(), nil
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
	mu   sync.Mutex
	runs []ProcRun
}

var _ invoke.Exec = (*recordingExec)(nil)

func (e *recordingExec) ExecPlugin(ctx context.Context, pluginPath string, stdinData []byte, environ []string) ([]byte, error) {
	run, out, err := RunProcess(ctx, pluginPath, environ, stdinData)
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
