// Package run executes external commands for the lab, sending their output to a step's log
// and keeping its tail for the error message, so that a failure says what failed and why
// without making the operator open the log first.
package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
)

// Runner runs commands. The zero value inherits the process environment and discards output.
type Runner struct {
	// Log receives the combined output of every command (stderr only for Output).
	Log io.Writer
	// Env, when non-nil, is the complete environment of the commands.
	Env []string
	// Dir is the working directory; empty means the current one.
	Dir string
}

// Error is a failed command with the tail of what it printed.
type Error struct {
	Cmd  string
	Tail string
	Err  error
}

func (e *Error) Error() string {
	if e.Tail == "" {
		return fmt.Sprintf("%s: %v", e.Cmd, e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", e.Cmd, e.Err, e.Tail)
}

func (e *Error) Unwrap() error { return e.Err }

// Run runs name with args and waits for it.
func (r Runner) Run(ctx context.Context, name string, args ...string) error {
	return r.run(ctx, nil, nil, name, args...)
}

// RunStdin runs name with args reading stdin.
func (r Runner) RunStdin(ctx context.Context, stdin io.Reader, name string, args ...string) error {
	return r.run(ctx, stdin, nil, name, args...)
}

// Output runs name with args and returns its stdout; stderr goes to the log.
func (r Runner) Output(ctx context.Context, name string, args ...string) ([]byte, error) {
	var out bytes.Buffer
	err := r.run(ctx, nil, &out, name, args...)
	return out.Bytes(), err
}

func (r Runner) run(ctx context.Context, stdin io.Reader, stdout io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = r.Env
	cmd.Dir = r.Dir
	cmd.Stdin = stdin
	tail := &tailWriter{max: 2048}
	logw := io.Discard
	if r.Log != nil {
		logw = r.Log
		fmt.Fprintf(logw, "+ %s\n", describe(name, args))
	}
	errw := io.MultiWriter(logw, tail)
	cmd.Stderr = errw
	cmd.Stdout = errw
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%w)", err, ctxErr)
		}
		return &Error{Cmd: describe(name, args), Tail: tail.String(), Err: err}
	}
	return nil
}

func describe(name string, args []string) string {
	const max = 160
	s := strings.TrimSpace(name + " " + strings.Join(args, " "))
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.buf)), "\n")
	if len(lines) > 6 {
		lines = lines[len(lines)-6:]
	}
	return strings.Join(lines, " | ")
}
