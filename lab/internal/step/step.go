// Package step prints the lab's progress: each step says what it does, how long it took and,
// when it fails, which step it was and where its log is.
package step

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Reporter runs named steps, each with its own log file under LogDir.
type Reporter struct {
	Out    io.Writer        // human progress lines
	LogDir string           // one <step>.log per step
	Now    func() time.Time // clock; nil means time.Now
	Indent string           // prefix for nested reporters
}

// Error is a failed step.
type Error struct {
	Step string
	Log  string
	Err  error
}

func (e *Error) Error() string {
	return fmt.Sprintf("step %q failed (log %s): %v", e.Step, e.Log, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Do runs fn as the step name. fn writes its detailed output to log.
func (r *Reporter) Do(ctx context.Context, name string, fn func(ctx context.Context, log io.Writer) error) error {
	now := r.now
	if err := os.MkdirAll(r.LogDir, 0o755); err != nil {
		return &Error{Step: name, Err: fmt.Errorf("log dir: %w", err)}
	}
	path := filepath.Join(r.LogDir, slug(name)+".log")
	f, err := os.Create(path)
	if err != nil {
		return &Error{Step: name, Log: path, Err: err}
	}
	defer f.Close()
	start := now()
	fmt.Fprintf(r.Out, "%s▶ %s\n", r.Indent, name)
	if err := fn(ctx, f); err != nil {
		fmt.Fprintf(r.Out, "%s✗ %s failed after %s (log %s)\n", r.Indent, name, since(start, now()), path)
		return &Error{Step: name, Log: path, Err: err}
	}
	fmt.Fprintf(r.Out, "%s✓ %s (%s)\n", r.Indent, name, since(start, now()))
	return nil
}

// Cached reports a step that was skipped because its output exists.
func (r *Reporter) Cached(name, what string) {
	fmt.Fprintf(r.Out, "%s✓ %s (cached: %s)\n", r.Indent, name, what)
}

// Note prints an informational line.
func (r *Reporter) Note(format string, args ...any) {
	fmt.Fprintf(r.Out, "%s  "+format+"\n", append([]any{r.Indent}, args...)...)
}

func (r *Reporter) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func since(start, end time.Time) string {
	return end.Sub(start).Round(100 * time.Millisecond).String()
}

func slug(name string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}
