// Package callrec is the recorder `make repro-delegate` puts in front of a delegate: a CNI
// plugin wrapper, installed as <bindir>/mt-repro-<type>, that runs the real plugin
// <bindir>/<type> with the exact stdin and environment it got and records the call in a
// directory of its own: stdin, the CNI_* environment, stdout, stderr, exit code and duration.
//
// Only the repro namespace's NAD names the wrapper (its types are rewritten to
// mt-repro-<type>), so no other pod's calls are recorded and the daemon needs no switch.
// The wrapper stays in the process group the daemon gave it: when the daemon's delegate
// deadline kills that group, wrapper and plugin die together and the call is left without
// an exit record, which is how a hang shows in the evidence.
//
// One directory per call that has a pod (K8S_POD_NAMESPACE in CNI_ARGS), under
// <root>/<pod namespace>/<start>-<pid>-<command>/:
//
//	meta.json   command, type, real plugin path, container ID, ifname, netns, pod, start
//	stdin       the config bytes exactly as received
//	env         CNI_* and PATH, one KEY=VALUE a line, sorted
//	stdout      the plugin's stdout (written as it comes)
//	stderr      the plugin's stderr (written as it comes)
//	exit.json   exit code, signal, duration, end; missing when the call never ended
//
// Directory names sort by start time (UTC, nanoseconds).
package callrec

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
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/atomicfile"
)

// The on-node layout is src/api's (lab/internal/repro reads it back).
const (
	Prefix      = api.CallRecordPrefix
	DefaultRoot = api.CallRecordRoot
	FileMeta    = api.CallFileMeta
	FileStdin   = api.CallFileStdin
	FileEnv     = api.CallFileEnv
	FileStdout  = api.CallFileStdout
	FileStderr  = api.CallFileStderr
	FileExit    = api.CallFileExit
)

// Meta is meta.json, Exit exit.json (src/api).
type (
	Meta = api.CallMeta
	Exit = api.CallExit
)

// TimeLayout names call directories; it sorts lexically in time order.
const TimeLayout = "20060102T150405.000000000Z"

// maxStdin bounds what the wrapper reads; CNI configs are kilobytes.
const maxStdin = 64 << 20

// Wrapper is one invocation of the recorder.
type Wrapper struct {
	// Root is the record directory (DefaultRoot on a node).
	Root string
	// Self is the wrapper's own path, as the runtime executed it (os.Args[0]).
	Self    string
	Environ []string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Now     func() time.Time
	PID     int
}

// Run records one call and forwards it to the real plugin; it returns the exit code the
// wrapper must exit with (the plugin's, or 128+signal when a signal ended it).
// Recording problems are reported on stderr but never stop the plugin from running.
func (w *Wrapper) Run(ctx context.Context) int {
	typ, plugin, err := RealPlugin(w.Self)
	if err != nil {
		return w.fail(cniErrorf(errInvalidConfig, "mt-repro recorder: %v", err))
	}
	stdin, err := io.ReadAll(io.LimitReader(w.Stdin, maxStdin))
	if err != nil {
		return w.fail(cniErrorf(errIO, "mt-repro recorder: read stdin: %v", err))
	}
	env := envMap(w.Environ)
	start := w.Now()
	meta := Meta{
		Command: env["CNI_COMMAND"], Type: typ, Plugin: plugin,
		ContainerID: env["CNI_CONTAINERID"], IfName: env["CNI_IFNAME"], Netns: env["CNI_NETNS"],
		Namespace: cniArg(env["CNI_ARGS"], "K8S_POD_NAMESPACE"), Pod: cniArg(env["CNI_ARGS"], "K8S_POD_NAME"),
		Start: start.UTC(), PID: w.PID,
	}
	var rec *record
	// Calls without a pod (VERSION, GC, STATUS) belong to no repro run: forwarded, not
	// recorded, so nothing accumulates outside the runs' own directories.
	if meta.Namespace != "" {
		var rerr error
		if rec, rerr = w.begin(meta, stdin); rerr != nil {
			fmt.Fprintf(w.Stderr, "mt-repro recorder: %v (the call is not recorded)\n", rerr)
		}
	}
	stdout, stderr := w.Stdout, w.Stderr
	if rec != nil {
		defer rec.close()
		stdout = io.MultiWriter(w.Stdout, rec.stdout)
		stderr = io.MultiWriter(w.Stderr, rec.stderr)
	}
	cmd := exec.CommandContext(ctx, plugin)
	cmd.Env = w.Environ
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	runErr := cmd.Run()
	ex := Exit{End: w.Now().UTC()}
	ex.DurationMs = float64(ex.End.Sub(start).Microseconds()) / 1000
	code := exitOf(runErr, &ex)
	if ex.Error != "" {
		// The plugin never ran: answer the way a plugin would, so the daemon reports it.
		_ = cniErrorf(errInternal, "mt-repro recorder: run %s: %s", plugin, ex.Error).printTo(stdout)
	}
	if rec != nil {
		if err := rec.finish(ex); err != nil {
			fmt.Fprintf(w.Stderr, "mt-repro recorder: %v\n", err)
		}
	}
	return code
}

// RealPlugin maps the wrapper's path <dir>/mt-repro-<type> to <type> and <dir>/<type>.
func RealPlugin(self string) (typ, plugin string, err error) {
	base := filepath.Base(self)
	typ = strings.TrimPrefix(base, Prefix)
	if typ == base || typ == "" {
		return "", "", fmt.Errorf("installed as %q, want %s<type> next to the real plugin <type>", self, Prefix)
	}
	return typ, filepath.Join(filepath.Dir(self), typ), nil
}

// exitOf turns the plugin's run error into the exit code and fills ex.
func exitOf(err error, ex *Exit) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			ex.Signal = ws.Signal().String()
			ex.Code = 128 + int(ws.Signal())
			return ex.Code
		}
		ex.Code = ee.ExitCode()
		return ex.Code
	}
	ex.Code = 1
	ex.Error = err.Error()
	return ex.Code
}

// record is one call directory being written.
type record struct {
	dir            string
	stdout, stderr *os.File
}

func (w *Wrapper) begin(meta Meta, stdin []byte) (*record, error) {
	ns := meta.Namespace
	cmd := meta.Command
	if cmd == "" {
		cmd = "NONE"
	}
	dir := filepath.Join(w.Root, ns, fmt.Sprintf("%s-%d-%s", meta.Start.Format(TimeLayout), meta.PID, cmd))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("record dir: %w", err)
	}
	m, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	for name, data := range map[string][]byte{FileMeta: m, FileStdin: stdin, FileEnv: envFile(w.Environ)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return nil, fmt.Errorf("record %s: %w", name, err)
		}
	}
	r := &record{dir: dir}
	if r.stdout, err = os.Create(filepath.Join(dir, FileStdout)); err != nil {
		return nil, fmt.Errorf("record stdout: %w", err)
	}
	if r.stderr, err = os.Create(filepath.Join(dir, FileStderr)); err != nil {
		r.stdout.Close()
		return nil, fmt.Errorf("record stderr: %w", err)
	}
	return r, nil
}

// finish writes exit.json atomically: a reader sees either no exit or the whole one.
func (r *record) finish(ex Exit) error {
	data, err := json.MarshalIndent(ex, "", "  ")
	if err != nil {
		return fmt.Errorf("exit: %w", err)
	}
	// A test record: no fsync (atomicfile.NoSync).
	if err := atomicfile.Write(filepath.Join(r.dir, FileExit), data, 0o644, atomicfile.NoSync); err != nil {
		return fmt.Errorf("record exit: %w", err)
	}
	return nil
}

func (r *record) close() {
	r.stdout.Close()
	r.stderr.Close()
}

// envFile keeps what a replay needs: the CNI_* variables and PATH.
func envFile(environ []string) []byte {
	var keep []string
	for _, kv := range environ {
		if strings.HasPrefix(kv, "CNI_") || strings.HasPrefix(kv, "PATH=") {
			keep = append(keep, kv)
		}
	}
	sort.Strings(keep)
	var b bytes.Buffer
	for _, kv := range keep {
		b.WriteString(kv)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func envMap(environ []string) map[string]string {
	m := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// cniArg returns key's value in CNI_ARGS ("K=V;K2=V2"; a value may contain '=').
func cniArg(args, key string) string {
	for _, kv := range strings.Split(args, ";") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// CNI error codes the wrapper itself may answer with (the spec's numbers).
const (
	errInvalidConfig = 7
	errIO            = 5
	errInternal      = 999
)

type cniError struct {
	CNIVersion string `json:"cniVersion"`
	Code       int    `json:"code"`
	Msg        string `json:"msg"`
}

func cniErrorf(code int, format string, args ...any) *cniError {
	return &cniError{CNIVersion: "1.0.0", Code: code, Msg: fmt.Sprintf(format, args...)}
}

func (e *cniError) printTo(w io.Writer) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// fail answers a call the wrapper cannot forward at all.
func (w *Wrapper) fail(e *cniError) int {
	_ = e.printTo(w.Stdout)
	fmt.Fprintln(w.Stderr, e.Msg)
	return 1
}
