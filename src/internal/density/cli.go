package density

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/multus-thick/multus-thick/src/internal/bench"
)

// Main parses args (without the program name), runs the benchmark and
// writes bench-lab.{json,md,svg}; it returns the exit code: 0 done, 1 run
// failed, 2 usage.
func Main(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, cl, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench-lab:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	env, err := cl.env(log)
	if err != nil {
		fmt.Fprintln(stderr, "bench-lab:", err)
		return 1
	}
	// The first signal cancels the run, whose cleanup then restores the lab;
	// restoring the default handlers lets a second one end it at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	rep, runErr := Run(ctx, cfg, env)
	if len(rep.Phases) > 0 {
		fmt.Fprintln(stdout)
		fmt.Fprint(stdout, rep.Markdown())
		written, err := writeOutputs(cl.out, rep)
		runErr = errors.Join(runErr, err)
		fmt.Fprintf(stdout, "\nwritten: %s\n", strings.Join(written, ", "))
	}
	if runErr != nil {
		fmt.Fprintln(stderr, "bench-lab:", runErr)
		return 1
	}
	return 0
}

// cliEnv is what the flags name besides Config.
type cliEnv struct {
	kubeconfig, docker, out string
}

func (c cliEnv) env(log *slog.Logger) (Env, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return Env{}, fmt.Errorf("kubeconfig %s: %w", c.kubeconfig, err)
	}
	// A burst sends Pods creates at once: keep client-go's limiter out of
	// the figures; no single request may hang.
	rc.QPS, rc.Burst, rc.Timeout = 200, 400, 30*time.Second
	core, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return Env{}, err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return Env{}, err
	}
	return Env{Core: core, Dynamic: dyn, Exec: DockerExec(c.docker), Log: log, Now: time.Now}, nil
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (Config, cliEnv, error) {
	def := DefaultOptions()
	fs := flag.NewFlagSet("bench-lab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfig := fs.String("kubeconfig", getenv("KUBECONFIG"), "the lab's kubeconfig; env KUBECONFIG")
	pods := fs.Int("pods", def.Pods, "pods per phase")
	rate := fs.Float64("rate", def.Rate, "pods per second in the rate phases")
	maxPods := fs.Int("max-pods", def.MaxPods, "refuse -pods above this")
	deadline := fs.Duration("deadline", def.Deadline, "the whole run (cleanup has its own 3 min)")
	phaseTimeout := fs.Duration("phase-timeout", def.PhaseTimeout, "one phase")
	modes := fs.String("modes", join(def.Modes), "comma-separated: multus+macvlan, multus, flannel")
	patterns := fs.String("patterns", join(def.Patterns), "comma-separated: rate, burst")
	out := fs.String("out", "_artifacts/bench", "output dir (bench-lab.json, .md, .svg)")
	image := fs.String("image", "localhost/mt-testpod:lab", "test pod image, preloaded in the nodes")
	nad := fs.String("nad", "nad/lab-macvlan-hostlocal.yaml", "fixtures path of the macvlan NAD")
	docker := fs.String("docker", "docker", "docker CLI, for exec into the kind nodes")
	commit := fs.String("commit", getenv("COMMIT"), "commit recorded in the report")
	if err := fs.Parse(args); err != nil {
		return Config{}, cliEnv{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, cliEnv{}, fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	if *kubeconfig == "" {
		return Config{}, cliEnv{}, errors.New("no kubeconfig: pass -kubeconfig or set KUBECONFIG")
	}
	opts := def
	opts.Pods, opts.Rate, opts.MaxPods, opts.Deadline, opts.PhaseTimeout = *pods, *rate, *maxPods, *deadline, *phaseTimeout
	opts.Modes = split[Mode](*modes)
	opts.Patterns = split[Pattern](*patterns)
	if err := opts.Validate(); err != nil {
		return Config{}, cliEnv{}, err
	}
	outAbs, err := filepath.Abs(*out)
	if err != nil {
		return Config{}, cliEnv{}, err
	}
	cfg := Config{
		Options: opts, Image: *image, NADFixture: *nad, Commit: *commit,
		DaemonNamespace: "kube-system", DaemonSelector: "app=multus", DaemonContainer: "kube-multus",
	}
	return cfg, cliEnv{kubeconfig: *kubeconfig, docker: *docker, out: outAbs}, nil
}

func writeOutputs(dir string, rep Report) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, err
	}
	files := []struct {
		name string
		data []byte
	}{
		{"bench-lab.json", append(data, '\n')},
		{"bench-lab.md", []byte(rep.Markdown())},
		{"bench-lab.svg", bench.RenderECDF(rep.Panels())},
	}
	var written []string
	var errs []error
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			errs = append(errs, err)
			continue
		}
		written = append(written, p)
	}
	return written, errors.Join(errs...)
}

func join[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ",")
}

func split[T ~string](s string) []T {
	var out []T
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, T(f))
		}
	}
	return out
}
