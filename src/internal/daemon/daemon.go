// Package daemon is multus-daemon's composition root: it turns the command
// line and daemon-config.json into a logger, the optional Kubernetes
// client, the resolver, the attacher, the socket server, the metrics
// listener and the auto-mode config manager, runs them until the context
// ends, and maps every failure to upstream's exit codes (§3.1). It is the
// only package that reads the process environment.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/config"
	"github.com/multus-thick/multus-thick/src/internal/logx"
	"github.com/multus-thick/multus-thick/src/internal/server"
	"github.com/multus-thick/multus-thick/src/internal/version"
)

// Exit codes (§3.1).
const (
	ExitOK = 0
	// ExitConfig: bad flags, daemon config unreadable or invalid, readiness
	// indicator file missing at startup.
	ExitConfig = 1
	// ExitConfigManager: auto mode could not produce 00-multus.conf, or
	// the readiness indicator file was removed while running.
	ExitConfigManager = 2
	// ExitServer: not root, socket, Kubernetes client, metrics listener or
	// server failure.
	ExitServer = 3
)

// Env is everything the daemon takes from its process. Zero fields get the
// real process's values (see Main); tests set them.
type Env struct {
	Args []string
	// Stdout receives -version output; Stderr usage, startup errors and,
	// by default, the log.
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// IsRoot reports whether the daemon may run (upstream refuses non-root:
	// delegates need it).
	IsRoot func() bool
	// NewBackend builds the CNI backend; nil means attach.New.
	NewBackend func(attach.Options) (server.CNI, error)
	// ReadinessInterval is how often the readiness indicator file is
	// looked at while something waits for it (upstream: 1 s); the bound is
	// the readinessIndicatorTimeout key.
	ReadinessInterval time.Duration
	// PrimaryTimeout bounds auto mode's wait for a primary config
	// (upstream: 120 s).
	PrimaryTimeout time.Duration
	// KubeSyncTimeout bounds the wait for the informer caches (upstream
	// waits 20 s; a failed sync is only logged).
	KubeSyncTimeout time.Duration
	// Hurry is closed to cut the drain short (a second signal); nil: never.
	Hurry <-chan struct{}
	// CgroupRoot is where the daemon's cgroup is mounted (memoryLimit
	// "auto"); default /sys/fs/cgroup.
	CgroupRoot string
}

// Main runs the daemon with the real process environment and returns the
// exit code. The first value on signals (SIGTERM/SIGINT) starts the
// graceful stop; a second one cuts the drain period short.
func Main(signals <-chan os.Signal, args []string, stderr io.Writer) int {
	ctx, hurry, stop := fromSignals(signals)
	defer stop()
	return Run(ctx, Env{Args: args, Stderr: stderr, Hurry: hurry})
}

// fromSignals turns a signal stream into the stop context (ended by the
// first signal) and the hurry channel (closed by the second). Later
// signals are absorbed: the stop is already as short as it gets, and the
// kubelet's SIGKILL ends anything longer.
func fromSignals(signals <-chan os.Signal) (context.Context, <-chan struct{}, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	hurry, done := make(chan struct{}), make(chan struct{})
	go func() {
		for n := 1; ; n++ {
			select {
			case <-done:
				return
			case <-signals:
				switch n {
				case 1:
					cancel()
				case 2:
					close(hurry)
				}
			}
		}
	}()
	var once sync.Once
	return ctx, hurry, func() { once.Do(func() { close(done); cancel() }) }
}

func (e *Env) defaults() {
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	if e.Stderr == nil {
		e.Stderr = os.Stderr
	}
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.IsRoot == nil {
		e.IsRoot = func() bool { return os.Geteuid() == 0 }
	}
	if e.NewBackend == nil {
		e.NewBackend = func(o attach.Options) (server.CNI, error) { return attach.New(o) }
	}
	if e.ReadinessInterval <= 0 {
		e.ReadinessInterval = time.Second
	}
	if e.PrimaryTimeout <= 0 {
		e.PrimaryTimeout = 120 * time.Second
	}
	if e.KubeSyncTimeout <= 0 {
		e.KubeSyncTimeout = 20 * time.Second
	}
	if e.CgroupRoot == "" {
		e.CgroupRoot = "/sys/fs/cgroup"
	}
}

// exitError carries an exit code up to Run, which prints the error once.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func fail(code int, format string, args ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, args...)}
}

// Run is Main with an explicit environment.
func Run(ctx context.Context, env Env) int {
	env.defaults()
	flags, err := config.ParseFlags(env.Args, env.Stderr)
	if config.IsHelp(err) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "multus-daemon: %v\n", err)
		return ExitConfig
	}
	if flags.Version {
		fmt.Fprintln(env.Stdout, version.String("multus-daemon"))
		return ExitOK
	}
	cfg, err := config.Load(flags.ConfigPath, flags.Overrides)
	if err != nil {
		fmt.Fprintf(env.Stderr, "multus-daemon: %v\n", err)
		return ExitConfig
	}
	log, closer, err := logx.New(logx.Options{
		Level: cfg.LogLevel, File: cfg.LogFile, ToStderr: cfg.LogToStderr,
		MaxAgeDays: cfg.LogOptions.MaxAge, MaxSizeMB: cfg.LogOptions.MaxSize,
		MaxBackups: cfg.LogOptions.MaxBackups, Compress: cfg.LogOptions.Compress,
		Stderr: env.Stderr,
	})
	if err != nil {
		fmt.Fprintf(env.Stderr, "multus-daemon: %s: %v\n", cfg.Path, err)
		return ExitConfig
	}
	defer closer.Close()
	reportWarnings(ctx, env.Stderr, log, cfg)

	err = run(ctx, env, cfg, log)
	if err == nil {
		return ExitOK
	}
	code := ExitServer
	var xe *exitError
	if errors.As(err, &xe) {
		code = xe.code
	}
	// The one place a fatal error is reported: the log, and stderr too
	// when the log does not go there, so it is never lost.
	log.Error("multus-daemon exiting", "code", code, "err", err)
	if !cfg.LogToStderr && cfg.LogFile != "" {
		fmt.Fprintf(env.Stderr, "multus-daemon: %v\n", err)
	}
	return code
}

// reportWarnings logs the values the config tolerated. At upstream's
// default level (panic) warnings are not logged, so they go to stderr, as
// upstream prints its own complaint about an unknown level: a tolerated
// mistake must still be visible somewhere.
func reportWarnings(ctx context.Context, stderr io.Writer, log *slog.Logger, cfg *config.Config) {
	for _, w := range cfg.Warnings {
		if log.Enabled(ctx, slog.LevelWarn) {
			log.Warn("daemon config: "+w, "file", cfg.Path)
		} else {
			fmt.Fprintf(stderr, "multus-daemon: warning: %s: %s\n", cfg.Path, w)
		}
	}
}

// splitPath splits a PATH-style list, dropping empty elements.
func splitPath(s string) []string {
	var out []string
	for _, p := range filepath.SplitList(s) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func logStartup(log *slog.Logger, cfg *config.Config) {
	log.Info("starting", "version", version.String("multus-daemon"), "config", cfg.Path,
		"socketDir", cfg.SocketDir, "auto", cfg.Auto(), "chrootDir", cfg.ChrootDir,
		"connectionLimit", cfg.ConnectionLimit, "maxConcurrentDelegates", cfg.MaxConcurrentDelegates)
}
