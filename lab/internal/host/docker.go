package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/multus-thick/multus-thick/lab/internal/atomicfile"
	"github.com/multus-thick/multus-thick/lab/internal/run"
)

// DockerOptions says where EnsureDocker puts things. The zero value is not usable; start
// from DefaultDockerOptions.
type DockerOptions struct {
	RepoRoot     string        // builds ./lab/cmd/mt-runc from here
	WrapperPath  string        // where mt-runc is installed
	DaemonJSON   string        // docker's daemon.json
	LogFile      string        // dockerd's output
	CapStatus    string        // file with a "CapBnd:" line, normally /proc/self/status
	StartTimeout time.Duration // how long dockerd may take to answer
	Env          []string      // environment for go and apt; nil inherits
}

// DefaultDockerOptions are the paths used on lab hosts.
func DefaultDockerOptions(repoRoot string) DockerOptions {
	return DockerOptions{
		RepoRoot:     repoRoot,
		WrapperPath:  "/usr/local/bin/mt-runc",
		DaemonJSON:   "/etc/docker/daemon.json",
		LogFile:      "/var/log/mt/dockerd.log",
		CapStatus:    "/proc/self/status",
		StartTimeout: 90 * time.Second,
	}
}

// capSysResource is CAP_SYS_RESOURCE's bit in the capability sets.
const capSysResource = 24

// EnsureDocker makes sure a docker engine answers. When one already does (a developer laptop,
// or a previous run) it is left alone. Otherwise (Debian's docker.io being installed by
// `make preflight`) the runtime wrapper is installed and made docker's default runtime when the
// host's bounding set lacks CAP_SYS_RESOURCE, and dockerd is started in the background (there is
// no systemd).
func EnsureDocker(ctx context.Context, log *slog.Logger, opts DockerOptions) error {
	if dockerAnswers(ctx) {
		return checkRunningDocker(ctx, log, opts)
	}
	logw, err := openLog(opts.LogFile)
	if err != nil {
		return err
	}
	defer logw.Close()
	r := run.Runner{Log: logw, Env: opts.Env}

	// docker.io is one of the host prerequisites (lab/internal/prereq) that `make preflight`
	// installs before any lab step runs; it is not installed a second way here.
	if _, err := exec.LookPath("dockerd"); err != nil {
		return fmt.Errorf("no dockerd on this host (Debian's docker.io): run `make preflight`: %w", err)
	}
	need, err := needsWrapper(opts.CapStatus)
	if err != nil {
		return err
	}
	if need {
		log.Info("host lacks CAP_SYS_RESOURCE: installing the runtime wrapper", "path", opts.WrapperPath)
		if err := InstallWrapper(ctx, r, opts.RepoRoot, opts.WrapperPath); err != nil {
			return err
		}
		if err := writeDaemonJSON(opts.DaemonJSON, opts.WrapperPath); err != nil {
			return err
		}
	}
	log.Info("starting dockerd", "log", opts.LogFile)
	exited, err := startDockerd(logw)
	if err != nil {
		return err
	}
	return waitDocker(ctx, opts.StartTimeout, exited, opts.LogFile)
}

// checkRunningDocker leaves a running engine alone but fails early, with the fix, when it
// would fail every kind node: no wrapper as default runtime on a host that needs one.
func checkRunningDocker(ctx context.Context, log *slog.Logger, opts DockerOptions) error {
	need, err := needsWrapper(opts.CapStatus)
	if err != nil || !need {
		log.Debug("docker engine answers; leaving it alone")
		return err
	}
	out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.DefaultRuntime}}").Output()
	if err != nil {
		return fmt.Errorf("docker info: %w", err)
	}
	if rt := strings.TrimSpace(string(out)); rt != RuntimeName {
		return fmt.Errorf("the running docker engine's default runtime is %q, but this host lacks CAP_SYS_RESOURCE "+
			"so privileged containers (kind nodes) fail; stop dockerd and run `make lab-docker`, which installs %s "+
			"as the default runtime in %s", rt, RuntimeName, opts.DaemonJSON)
	}
	return nil
}

// InstallWrapper builds mt-runc from repoRoot and installs it atomically at path.
func InstallWrapper(ctx context.Context, r run.Runner, repoRoot, path string) error {
	r.Dir = repoRoot
	r.Env = append(envOrInherit(r.Env), "CGO_ENABLED=0")
	// Durable: docker's default runtime; a short file after a crash would fail every
	// container.
	err := atomicfile.Replace(path, atomicfile.Durable, func(tmp string) error {
		if err := r.Run(ctx, "go", "build", "-trimpath", "-o", tmp, "./lab/cmd/mt-runc"); err != nil {
			return fmt.Errorf("build mt-runc: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("install mt-runc: %w", err)
	}
	return nil
}

func envOrInherit(env []string) []string {
	if env != nil {
		return env
	}
	return os.Environ()
}

func writeDaemonJSON(path, wrapper string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	out, changed, err := MergeDaemonJSON(old, wrapper)
	if err != nil || !changed {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	// Durable: an edit of the host's docker config, which a torn write would break.
	if err := atomicfile.WriteFile(path, out, 0o644, atomicfile.Durable); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// needsWrapper reports whether CAP_SYS_RESOURCE is missing from the bounding set in status.
func needsWrapper(statusFile string) (bool, error) {
	data, err := os.ReadFile(statusFile)
	if err != nil {
		return false, fmt.Errorf("read capabilities: %w", err)
	}
	bnd, err := boundingSet(string(data))
	if err != nil {
		return false, err
	}
	return bnd&(1<<capSysResource) == 0, nil
}

// boundingSet parses the CapBnd line of /proc/<pid>/status.
func boundingSet(status string) (uint64, error) {
	for line := range strings.SplitSeq(status, "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("parse CapBnd %q: %w", v, err)
			}
			return n, nil
		}
	}
	return 0, errors.New("no CapBnd line in process status")
}

func openLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open docker log: %w", err)
	}
	return f, nil
}

// startDockerd starts dockerd in its own session so it outlives the lab command. The
// returned channel is closed if dockerd exits.
func startDockerd(logw *os.File) (<-chan struct{}, error) {
	cmd := exec.Command("dockerd")
	cmd.Stdout, cmd.Stderr = logw, logw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dockerd: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	return exited, nil
}

func waitDocker(ctx context.Context, timeout time.Duration, exited <-chan struct{}, logFile string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		if dockerAnswers(ctx) {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("dockerd exited during start (log %s)", logFile)
		case <-ctx.Done():
			return fmt.Errorf("dockerd did not answer within %s (log %s): %w", timeout, logFile, ctx.Err())
		case <-tick.C:
		}
	}
}

func dockerAnswers(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").Run() == nil
}
