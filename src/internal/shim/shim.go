// Package shim is multus-shim: the CNI plugin the runtime executes. It
// answers VERSION itself and forwards ADD, DEL, CHECK, GC and STATUS to the
// daemon over its unix socket, then prints the daemon's result or error.
//
// Everything the process touches (arguments, environment, stdio) is
// injected, so the whole entry path runs in tests without a subprocess.
package shim

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	cnitypes "github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/types/create"
	cniversion "github.com/containernetworking/cni/pkg/version"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/client"
	"github.com/multus-thick/multus-thick/src/internal/version"
)

// SupportedVersions are the CNI spec versions the shim accepts, as upstream.
var SupportedVersions = []string{"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}

// IO is the process boundary of one invocation.
type IO struct {
	Args   []string // without the program name
	Env    map[string]string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Main runs one invocation and returns the process exit code.
func Main(ctx context.Context, pio IO) int {
	fs := flag.NewFlagSet("multus-shim", flag.ContinueOnError)
	fs.SetOutput(pio.Stderr)
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.BoolVar(showVersion, "v", false, "print the version and exit (shorthand)")
	probe := fs.String("probe", "", "probe the daemon (healthz or readyz) and exit 0 when it answers 200")
	socketDir := fs.String("socket-dir", api.DefaultSocketDir, "daemon socket directory, for -probe")
	if err := fs.Parse(pio.Args); err != nil {
		return 2
	}
	switch {
	case *showVersion:
		fmt.Fprintln(pio.Stdout, version.String("multus-shim"))
		return 0
	case *probe != "":
		if err := runProbe(ctx, *probe, *socketDir); err != nil {
			fmt.Fprintln(pio.Stderr, err)
			return 1
		}
		return 0
	}
	if err := run(ctx, pio); err != nil {
		printError(pio.Stdout, err)
		return 1
	}
	return 0
}

func runProbe(ctx context.Context, endpoint, socketDir string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c := client.New(api.SocketPath(socketDir))
	switch endpoint {
	case "healthz":
		return c.Healthz(ctx)
	case "readyz":
		return c.Readyz(ctx)
	default:
		return fmt.Errorf("-probe: unknown endpoint %q (want healthz or readyz)", endpoint)
	}
}

// run executes one CNI command. Errors it returns are printed as CNI error
// JSON on stdout, as the spec asks.
func run(ctx context.Context, pio IO) error {
	cmd := pio.Env[api.EnvCommand]
	if cmd == "" {
		return &cnitypes.Error{Code: cnitypes.ErrInvalidEnvironmentVariables, Msg: "required env variable CNI_COMMAND is missing"}
	}
	stdin, err := io.ReadAll(pio.Stdin)
	if err != nil {
		return &cnitypes.Error{Code: cnitypes.ErrIOFailure, Msg: fmt.Sprintf("read stdin: %v", err)}
	}
	if cmd == "VERSION" {
		return cniversion.PluginSupports(SupportedVersions...).Encode(pio.Stdout)
	}
	if err := checkEnv(cmd, pio.Env); err != nil {
		return err
	}
	conf, err := ParseConfig(stdin)
	if err != nil {
		return &cnitypes.Error{Code: cnitypes.ErrDecodingFailure, Msg: err.Error()}
	}
	if err := checkVersion(conf.CNIVersion); err != nil {
		return err
	}
	log, closeLog := newLogger(conf, pio.Stderr)
	defer closeLog()
	log = log.With("command", cmd, "containerID", pio.Env[api.EnvContainerID], "ifname", pio.Env[api.EnvIfName])

	ctx, cancel := context.WithTimeout(ctx, conf.Timeout)
	defer cancel()
	s := &forwarder{
		conf:   conf,
		client: client.New(api.SocketPath(conf.SocketDir)),
		log:    log,
		req:    &api.Request{Env: cniEnv(cmd, pio.Env), Config: stdin},
		stdout: pio.Stdout,
	}
	switch cmd {
	case "ADD":
		return s.add(ctx)
	case "DEL":
		return s.del(ctx)
	case "CHECK", "GC", "STATUS":
		return s.forward(ctx, cmd)
	default:
		return &cnitypes.Error{Code: cnitypes.ErrInvalidEnvironmentVariables, Msg: fmt.Sprintf("unknown CNI_COMMAND %q", cmd)}
	}
}

// forwarder is one shim run: the runtime's request on its way to the
// daemon, with the client, logger and stdout it answers through.
type forwarder struct {
	conf   *Config
	client *client.Client
	log    *slog.Logger
	req    *api.Request
	stdout io.Writer
}

func (s *forwarder) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.conf.ReadinessTimeout)
	defer cancel()
	if err := s.client.WaitReady(ctx, readinessPoll); err != nil {
		return &cnitypes.Error{
			Code:    cnitypes.ErrTryAgainLater,
			Msg:     fmt.Sprintf("multus daemon at %s not ready after %s", s.client.SocketPath(), s.conf.ReadinessTimeout),
			Details: err.Error(),
		}
	}
	return nil
}

// maxSends bounds how often one invocation goes back to waiting because
// the daemon vanished between the probe and the call.
const maxSends = 5

// send waits for the daemon (wait), then posts the request. The probe and
// the call are two connections, so a daemon can close its listener in
// between (its drain ended, or it was replaced by the next one); a call
// that retryable accepts goes back to waiting, for the next daemon.
func (s *forwarder) send(ctx context.Context, wait func(context.Context) error, retryable func(error) bool) (*api.Response, error) {
	for n := 1; ; n++ {
		if err := wait(ctx); err != nil {
			return nil, err
		}
		resp, err := s.client.CNI(ctx, s.req)
		if err == nil || n == maxSends || ctx.Err() != nil || !retryable(err) {
			return resp, err
		}
		s.log.Info("daemon went away between probe and call; waiting for the next one", "attempt", n, "err", err)
	}
}

// neverReached reports whether the request surely never reached a daemon
// (the connection was refused or the socket was gone), so even an ADD may
// be sent again.
func neverReached(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// transportFailed reports a failure to talk to the daemon at all, as
// opposed to an answer from it. DEL is idempotent, so it is sent again
// even if the daemon may have run it before the connection broke.
func transportFailed(err error) bool {
	var cniErr *cnitypes.Error
	return errors.Is(err, client.ErrNotReady) && !errors.As(err, &cniErr)
}

func (s *forwarder) add(ctx context.Context) error {
	resp, err := s.send(ctx, s.waitReady, neverReached)
	if err != nil {
		return s.fail("ADD", err)
	}
	if len(resp.Result) == 0 {
		return &cnitypes.Error{Code: cnitypes.ErrInternal, Msg: "multus daemon returned no result for ADD"}
	}
	result, err := create.Create(api.ResultVersion, resp.Result)
	if err != nil {
		return &cnitypes.Error{Code: cnitypes.ErrDecodingFailure, Msg: fmt.Sprintf("decode daemon result: %v", err)}
	}
	versioned, err := result.GetAsVersion(s.conf.CNIVersion)
	if err != nil {
		return &cnitypes.Error{Code: cnitypes.ErrIncompatibleCNIVersion, Msg: fmt.Sprintf("convert result to %s: %v", s.conf.CNIVersion, err)}
	}
	return versioned.PrintTo(s.stdout)
}

// del waits for /healthz (not /readyz: a draining daemon still serves
// DEL) for up to the readiness timeout. Upstream probes only once, so a DEL
// that lands while the daemon restarts is dropped and its IPs leak; waiting
// lets the next daemon do it. Errors are then logged and swallowed unless
// reportDelErrors is set: upstream's shim always exits 0 on DEL, and
// runtimes retry a failed DEL without end.
func (s *forwarder) del(ctx context.Context) error {
	_, err := s.send(ctx, s.waitHealthy, transportFailed)
	if err == nil {
		return nil
	}
	if s.conf.ReportDelErrors {
		return s.fail("DEL", err)
	}
	s.log.Error("DEL failed; reporting success (set reportDelErrors to fail it)", "err", err)
	return nil
}

func (s *forwarder) waitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.conf.ReadinessTimeout)
	defer cancel()
	ticker := time.NewTicker(readinessPoll)
	defer ticker.Stop()
	for {
		err := s.client.Healthz(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("multus daemon at %s not healthy after %s: %w", s.client.SocketPath(), s.conf.ReadinessTimeout, err)
		case <-ticker.C:
		}
	}
}

func (s *forwarder) forward(ctx context.Context, cmd string) error {
	if _, err := s.send(ctx, s.waitReady, neverReached); err != nil {
		return s.fail(cmd, err)
	}
	return nil
}

// fail keeps a daemon's CNI error as it is (its code is the delegate's) and
// turns transport errors into "try again later".
func (s *forwarder) fail(cmd string, err error) error {
	s.log.Error(cmd+" failed", "err", err)
	var cniErr *cnitypes.Error
	if errors.As(err, &cniErr) {
		return cniErr
	}
	if errors.Is(err, client.ErrNotReady) {
		return &cnitypes.Error{Code: cnitypes.ErrTryAgainLater, Msg: fmt.Sprintf("%s: %v", cmd, err)}
	}
	return &cnitypes.Error{Code: cnitypes.ErrInternal, Msg: fmt.Sprintf("%s: %v", cmd, err)}
}

// cniEnv picks the variables the daemon reads. Upstream's shim sends its
// whole environment; we send only these. For ADD, DEL and CHECK the keys are
// always present (maybe empty), because upstream's daemon requires them.
func cniEnv(cmd string, env map[string]string) map[string]string {
	out := map[string]string{api.EnvCommand: cmd}
	keys := []string{api.EnvContainerID, api.EnvNetns, api.EnvIfName, api.EnvArgs, api.EnvPath}
	for _, k := range keys {
		v, ok := env[k]
		if ok || cmd == "ADD" || cmd == "DEL" || cmd == "CHECK" {
			out[k] = v
		}
	}
	return out
}

// checkEnv applies the CNI spec's required variables per command.
func checkEnv(cmd string, env map[string]string) error {
	var required []string
	switch cmd {
	case "ADD", "CHECK":
		required = []string{api.EnvContainerID, api.EnvNetns, api.EnvIfName}
	case "DEL":
		required = []string{api.EnvContainerID, api.EnvIfName}
	}
	var missing []string
	for _, k := range required {
		if env[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return &cnitypes.Error{
			Code: cnitypes.ErrInvalidEnvironmentVariables,
			Msg:  fmt.Sprintf("required env variables [%s] missing for %s", strings.Join(missing, ","), cmd),
		}
	}
	return nil
}

func checkVersion(v string) error {
	if v == "" {
		v = "0.1.0"
	}
	for _, s := range SupportedVersions {
		if s == v {
			return nil
		}
	}
	return &cnitypes.Error{
		Code:    cnitypes.ErrIncompatibleCNIVersion,
		Msg:     "incompatible CNI versions",
		Details: fmt.Sprintf("config is %q, plugin supports %q", v, SupportedVersions),
	}
}

func printError(w io.Writer, err error) {
	var cniErr *cnitypes.Error
	if !errors.As(err, &cniErr) {
		cniErr = &cnitypes.Error{Code: cnitypes.ErrInternal, Msg: err.Error()}
	}
	// cnitypes.Error.Print writes to os.Stdout; encode to the injected writer.
	data, _ := json.MarshalIndent(cniErr, "", "    ")
	_, _ = w.Write(append(data, '\n'))
}
