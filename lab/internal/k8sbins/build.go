package k8sbins

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/multus-thick/multus-thick/lab/internal/gobuild"
	"github.com/multus-thick/multus-thick/lab/internal/run"
)

// Commands are the Kubernetes commands the lab needs, in build order (kube-apiserver first:
// the integration tier needs it soonest).
var Commands = []string{"kube-apiserver", "kubectl", "kubelet", "kubeadm", "kube-controller-manager", "kube-scheduler", "kube-proxy"}

// Options say what to build and where.
type Options struct {
	Version  string   // e.g. v1.37.2
	CacheDir string   // e.g. /var/cache/multus-thick; output goes to <CacheDir>/k8s-<Version>/bin
	Commands []string // nil means Commands
	Log      io.Writer
	Env      []string // nil inherits
	// Poll is how often to look whether another build of the same binaries has finished.
	Poll time.Duration
}

// BinDir is where EnsureK8sBins puts the binaries.
func BinDir(cacheDir, version string) string {
	return filepath.Join(cacheDir, "k8s-"+version, "bin")
}

// LDFlags are the version ldflags that make `kubectl version` honest. They match the
// original build script's exactly so both share Go's build cache.
func LDFlags(version string) string {
	minor := strings.SplitN(strings.TrimPrefix(version, "v1."), ".", 2)[0]
	return strings.Join([]string{
		"-s -w",
		"-X k8s.io/component-base/version.gitVersion=" + version,
		"-X k8s.io/component-base/version.gitMajor=1",
		"-X k8s.io/component-base/version.gitMinor=" + minor,
		"-X k8s.io/component-base/version.gitTreeState=clean",
		"-X k8s.io/client-go/pkg/version.gitVersion=" + version,
	}, " ")
}

// EnsureK8sBins builds the missing commands into BinDir and returns it. Binaries that exist
// are kept. If another process is already building into the same directory it waits for that
// build instead of starting a second one (two Kubernetes builds on two cores help nobody).
func EnsureK8sBins(ctx context.Context, opts Options) (string, error) {
	cmds := opts.Commands
	if cmds == nil {
		cmds = Commands
	}
	bin := BinDir(opts.CacheDir, opts.Version)
	if err := waitForOtherBuilder(ctx, opts, bin); err != nil {
		return "", err
	}
	var missing []string
	for _, c := range cmds {
		if !gobuild.Exists(filepath.Join(bin, c)) {
			missing = append(missing, c)
		}
	}
	if len(missing) == 0 {
		return bin, nil
	}
	r := run.Runner{Log: opts.Log, Env: opts.Env}
	wrap := filepath.Join(opts.CacheDir, "k8s-"+opts.Version, "wrap")
	if err := writeWrapper(ctx, r, opts.Version, wrap); err != nil {
		return "", err
	}
	outputs := map[string]string{}
	for _, c := range missing {
		outputs["k8s.io/kubernetes/cmd/"+c] = filepath.Join(bin, c)
	}
	req := gobuild.Request{Name: "wrap", WorkDir: filepath.Dir(wrap), Outputs: outputs, LDFlags: LDFlags(opts.Version)}
	if err := gobuild.Build(ctx, r, req); err != nil {
		return "", fmt.Errorf("kubernetes %s: %w", opts.Version, err)
	}
	return bin, nil
}

// writeWrapper generates the wrapper module from kubernetes' go.mod, once.
func writeWrapper(ctx context.Context, r run.Runner, version, dir string) error {
	if gobuild.Exists(filepath.Join(dir, "go.sum")) {
		return nil
	}
	_, goMod, err := gobuild.ModuleDir(ctx, r, "k8s.io/kubernetes", version)
	if err != nil {
		return err
	}
	editJSON, err := r.Output(ctx, "go", "mod", "edit", "-json", goMod)
	if err != nil {
		return fmt.Errorf("read kubernetes go.mod: %w", err)
	}
	replaces, err := ParseModEditJSON(editJSON)
	if err != nil {
		return err
	}
	mod, err := GenerateGoMod(version, gobuild.GoVersion, replaces)
	if err != nil {
		return err
	}
	var pkgs []string
	for _, c := range Commands {
		pkgs = append(pkgs, "k8s.io/kubernetes/cmd/"+c)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), mod, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "tools.go"), GenerateTools(pkgs), 0o644); err != nil {
		return err
	}
	r.Dir = dir
	r.Env = append(inheritEnv(r.Env), "GOTOOLCHAIN=local")
	if err := r.Run(ctx, "go", "mod", "tidy"); err != nil {
		os.Remove(filepath.Join(dir, "go.sum"))
		return fmt.Errorf("tidy the wrapper module: %w", err)
	}
	return nil
}

func inheritEnv(env []string) []string {
	if env != nil {
		return env
	}
	return os.Environ()
}

// waitForOtherBuilder waits while any other process mentions bin in its command line (a go
// build writing there, or the script that started it).
func waitForOtherBuilder(ctx context.Context, opts Options, bin string) error {
	poll := opts.Poll
	if poll == 0 {
		poll = 10 * time.Second
	}
	needle := filepath.Base(filepath.Dir(bin)) + "/bin/" // k8s-v1.37.2/bin/, relative or not
	announced := false
	for {
		pid := findProcess(needle, os.Getpid())
		if pid == 0 {
			return nil
		}
		if !announced && opts.Log != nil {
			fmt.Fprintf(opts.Log, "waiting for the running build (pid %d) writing into %s\n", pid, bin)
			announced = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the running kubernetes build: %w", ctx.Err())
		case <-time.After(poll):
		}
	}
}

// findProcess returns a pid (other than self) whose command line contains needle, or 0.
func findProcess(needle string, self int) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == self {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(string(cmdline), needle) {
			return pid
		}
		// The original build script (./build.sh run from k8s-wrap) between two go builds.
		if cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); strings.HasSuffix(cwd, "/k8s-wrap") &&
			strings.Contains(string(cmdline), "build.sh") {
			return pid
		}
	}
	return 0
}
