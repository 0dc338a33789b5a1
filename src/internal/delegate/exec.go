package delegate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	cnitypes "github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// Defaults of the "text file busy" retry: a plugin binary that is being
// replaced (an installer copying it in) cannot be executed for a moment.
const (
	defaultBusyAttempts = 6
	defaultBusyBackoff  = 200 * time.Millisecond
	// killWaitDelay bounds how long a killed plugin's pipes may stay open.
	killWaitDelay = 2 * time.Second
)

// Exec is an invoke.Exec that runs plugins as child processes, optionally
// chrooted into Root (the host root mounted into the daemon's container).
// With a Root, plugins are looked up inside the root, so the bin dir need
// not exist at the same path in the daemon's own filesystem (upstream looks
// them up in the daemon's filesystem and then runs them in the chroot).
type Exec struct {
	// Root is the chroot directory; empty runs plugins without chroot.
	Root string
	// Stderr receives a successful plugin's stderr; nil discards it. On
	// failure stderr becomes part of the error instead.
	Stderr io.Writer
	// BusyAttempts and BusyBackoff bound the ETXTBSY retry (0: defaults).
	BusyAttempts int
	BusyBackoff  time.Duration
	// MaxPerPod bounds one pod's running plugin processes (0:
	// DefaultMaxPerPod); see inflight.enter.
	MaxPerPod int

	version.PluginDecoder

	// running tracks the plugin processes of this Exec.
	running inflight
	// proc is procfs ("" is /proc); tests point it elsewhere.
	proc string
	// run starts and waits for cmd; tests replace it.
	run func(cmd *exec.Cmd) error
}

var _ invoke.Exec = (*Exec)(nil)

// NewExec returns an Exec that runs plugins without chroot.
func NewExec() *Exec { return &Exec{} }

// NewChrootExec returns an Exec that runs plugins chrooted into root.
func NewChrootExec(root string) *Exec { return &Exec{Root: root} }

// FindInPath looks plugin up in paths; with a Root the directories are
// taken relative to the root and the returned path is the one inside it.
func (e *Exec) FindInPath(plugin string, paths []string) (string, error) {
	if plugin == "" {
		return "", errors.New("no plugin name provided")
	}
	// A type such as "../x" or "/bin/sh" would escape the bin dirs.
	if strings.ContainsRune(plugin, os.PathSeparator) || plugin == "." || plugin == ".." {
		return "", cnitypes.NewError(cnitypes.ErrInvalidNetworkConfig, fmt.Sprintf("invalid plugin type %q: contains a path separator", plugin), "")
	}
	if len(paths) == 0 {
		return "", errors.New("no paths provided")
	}
	for _, dir := range paths {
		if dir == "" {
			continue
		}
		inRoot := filepath.Join(dir, plugin)
		if e.Root != "" {
			inRoot = filepath.Join("/", inRoot)
		}
		fi, err := os.Stat(filepath.Join(e.Root, inRoot))
		if err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return inRoot, nil
		}
	}
	where := strings.Join(paths, ":")
	if e.Root != "" {
		where += " (inside " + e.Root + ")"
	}
	// Code 7: the config names a type this node does not have.
	return "", cnitypes.NewError(cnitypes.ErrInvalidNetworkConfig, fmt.Sprintf("failed to find plugin %q in path %s", plugin, where), "")
}

// ExecPlugin runs the plugin with the environment libcni built and the
// config on stdin. The process is killed when ctx ends.
func (e *Exec) ExecPlugin(ctx context.Context, pluginPath string, stdin []byte, environ []string) ([]byte, error) {
	attempts, backoff := e.BusyAttempts, e.BusyBackoff
	if attempts <= 0 {
		attempts = defaultBusyAttempts
	}
	if backoff <= 0 {
		backoff = defaultBusyBackoff
	}
	c := callOf(environ)
	max := e.MaxPerPod
	if max <= 0 {
		max = DefaultMaxPerPod
	}
	leave, err := e.running.enter(c, max)
	if err != nil {
		return nil, err
	}
	defer leave()
	run := e.run
	if run == nil {
		run = e.tracked(c.containerID)
	}
	for attempt := 1; ; attempt++ {
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, pluginPath)
		cmd.Env = environ
		cmd.Stdin = bytes.NewReader(stdin)
		cmd.Stdout = &stdout
		cmd.Stderr = &stderr
		// Own process group, so a deadline kills the plugin together with
		// the plugins it started (flannel runs bridge, bridge runs IPAM);
		// WaitDelay stops a leftover holding stdout from blocking us.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = killWaitDelay
		if e.Root != "" {
			cmd.SysProcAttr.Chroot = e.Root
			cmd.Dir = "/"
		}
		err := run(cmd)
		if err == nil {
			if e.Stderr != nil && stderr.Len() > 0 {
				_, _ = stderr.WriteTo(e.Stderr)
			}
			return stdout.Bytes(), nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("plugin %s did not finish: %w", pluginPath, ctxErr)
		}
		if errors.Is(err, syscall.ETXTBSY) && attempt < attempts {
			if err := sleep(ctx, backoff); err != nil {
				return nil, fmt.Errorf("plugin %s: text file busy: %w", pluginPath, err)
			}
			continue
		}
		return nil, pluginError(err, stdout.Bytes(), stderr.Bytes())
	}
}

// tracked runs cmd and, while it runs, records its PID as a plugin of
// containerID (InDelegateOf).
func (e *Exec) tracked(containerID string) func(cmd *exec.Cmd) error {
	return func(cmd *exec.Cmd) error {
		if err := cmd.Start(); err != nil {
			return err
		}
		e.running.started(cmd.Process.Pid, containerID)
		defer e.running.finished(cmd.Process.Pid)
		return cmd.Wait()
	}
}

// pluginError maps a failed run to a CNI error: the plugin's own error JSON
// on stdout when there is one, else its stderr, else the exit status.
func pluginError(runErr error, stdout, stderr []byte) error {
	if len(bytes.TrimSpace(stdout)) > 0 {
		cerr := &cnitypes.Error{}
		if err := json.Unmarshal(stdout, cerr); err == nil && (cerr.Code != 0 || cerr.Msg != "") {
			return cerr
		}
		return &cnitypes.Error{
			Code: cnitypes.ErrInternal,
			Msg:  fmt.Sprintf("netplugin failed (%v) and its output is not a CNI error: %q", runErr, string(stdout)),
		}
	}
	if msg := strings.TrimSpace(string(stderr)); msg != "" {
		return &cnitypes.Error{Code: cnitypes.ErrInternal, Msg: fmt.Sprintf("netplugin failed: %q", msg), Details: runErr.Error()}
	}
	return &cnitypes.Error{Code: cnitypes.ErrInternal, Msg: fmt.Sprintf("netplugin failed with no error message: %v", runErr)}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
