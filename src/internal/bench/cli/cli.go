// Package cli turns mt-bench's flags and environment into a bench.Config,
// runs it under a signal-aware context and prints the table.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/multus-thick/multus-thick/src/internal/bench"
)

// Main parses args (without the program name) and runs the benchmark with
// environ as the environment the daemons and plugins start with; it returns
// the process exit code: 0 done, 1 run failed, 2 usage.
func Main(args, environ []string, stdout, stderr io.Writer) int {
	getenv := func(key string) string {
		for _, kv := range slices.Backward(environ) {
			if v, ok := strings.CutPrefix(kv, key+"="); ok {
				return v
			}
		}
		return ""
	}
	cfg, err := parse(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "mt-bench:", err)
		return 2
	}
	cfg.Env = environ
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// The first signal starts an orderly cleanup; restoring the default
		// handlers lets a second one end the process at once.
		<-ctx.Done()
		stop()
	}()
	rep, runErr := bench.Run(ctx, cfg, log)
	if len(rep.Subjects) > 0 || rep.Floor.SeqAdd.N > 0 {
		fmt.Fprintln(stdout)
		fmt.Fprint(stdout, rep.Markdown())
		fmt.Fprintf(stdout, "\nwritten: %s\n", strings.Join([]string{
			filepath.Join(cfg.OutDir, "bench.json"), filepath.Join(cfg.OutDir, "bench.md"), filepath.Join(cfg.OutDir, "latency.svg"),
		}, ", "))
	}
	if runErr != nil {
		fmt.Fprintln(stderr, "mt-bench:", runErr)
		return 1
	}
	return 0
}

// subjectList collects -compare name=shim:daemon flags.
type subjectList []bench.Subject

func (s *subjectList) String() string { return fmt.Sprint(*s) }

func (s *subjectList) Set(v string) error {
	name, paths, ok := strings.Cut(v, "=")
	shim, daemon, ok2 := strings.Cut(paths, ":")
	if !ok || !ok2 || name == "" || shim == "" || daemon == "" {
		return fmt.Errorf("want name=/path/to/shim:/path/to/daemon, got %q", v)
	}
	*s = append(*s, bench.Subject{Name: name, Shim: shim, Daemon: daemon})
	return nil
}

// confList collects -daemon-conf name:key=value flags. A value that is not
// JSON is taken as a string, so addedInterfaceEvents=perPod needs no quotes.
type confList map[string]map[string]json.RawMessage

func (c confList) String() string { return fmt.Sprint(map[string]map[string]json.RawMessage(c)) }

func (c confList) Set(v string) error {
	name, kv, ok := strings.Cut(v, ":")
	key, val, ok2 := strings.Cut(kv, "=")
	if !ok || !ok2 || name == "" || key == "" {
		return fmt.Errorf("want name:key=value, got %q", v)
	}
	raw := json.RawMessage(val)
	if !json.Valid(raw) {
		var err error
		if raw, err = json.Marshal(val); err != nil {
			return err
		}
	}
	if c[name] == nil {
		c[name] = map[string]json.RawMessage{}
	}
	c[name][key] = raw
	return nil
}

func parse(args []string, getenv func(string) string, stderr io.Writer) (bench.Config, error) {
	envOr := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("mt-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mode := fs.String("mode", envOr("BENCH", "full"), "quick (< 2 min) or full; env BENCH")
	name := fs.String("name", envOr("BENCH_NAME", "multus-thick"), "name of the subject given by -shim/-daemon")
	shim := fs.String("shim", envOr("SHIM_BIN", "bin/multus-shim"), "shim binary; env SHIM_BIN")
	daemon := fs.String("daemon", envOr("DAEMON_BIN", "bin/multus-daemon"), "daemon binary; env DAEMON_BIN")
	var more subjectList
	fs.Var(&more, "compare", "another subject as name=/path/shim:/path/daemon (repeatable)")
	confs := confList{}
	fs.Var(confs, "daemon-conf", "a daemon-config key for one subject, name:key=value (repeatable; a value that is not JSON is a string), "+
		"e.g. -compare perPod=bin/multus-shim:bin/multus-daemon -daemon-conf perPod:addedInterfaceEvents=perPod")
	plugins := fs.String("plugins", envOr("MT_PLUGINS", "/var/cache/multus-thick/cni-plugins-v1.10.0"), "reference CNI plugins dir; env MT_PLUGINS")
	assets := fs.String("assets", envOr("KUBEBUILDER_ASSETS", "/var/cache/multus-thick/envtest-assets")+":/var/cache/multus-thick/k8s-v1.37.2/bin",
		"colon-separated dirs searched for kube-apiserver, etcd, kubectl (then PATH); env KUBEBUILDER_ASSETS comes first")
	out := fs.String("out", envOr("BENCH_OUT", "_artifacts/bench"), "output dir")
	node := fs.String("node", "mt-bench-node", "node name the bench pods are bound to (MULTUS_NODE_NAME)")
	commit := fs.String("commit", getenv("COMMIT"), "commit recorded in the report")
	ipBin := fs.String("ip", "ip", "iproute2 ip binary")
	timeBin := fs.String("time", "/usr/bin/time", "GNU time, for the peak RSS of short processes (\"\" skips those figures)")
	logLevel := fs.String("daemon-log-level", "error", "daemon logLevel (debug to see where a slow ADD spends its time; it costs latency)")
	inCluster := fs.String("in-cluster", "", "comma-separated subject names whose daemon only reads in-cluster credentials (upstream's): "+
		"they get KUBERNETES_SERVICE_HOST/PORT and a service-account token mount instead of a kubeconfig")
	floorOnly := fs.Bool("floor-only", false, "measure only the floor (develop the harness without a shim and daemon)")
	if err := fs.Parse(args); err != nil {
		return bench.Config{}, err
	}
	if fs.NArg() > 0 {
		return bench.Config{}, fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	if _, err := bench.ParamsFor(*mode); err != nil {
		return bench.Config{}, err
	}
	subjects := append(subjectList{{Name: *name, Shim: *shim, Daemon: *daemon}}, more...)
	if *floorOnly {
		subjects = nil
	}
	wantInCluster := map[string]bool{}
	for _, n := range strings.Split(*inCluster, ",") {
		if n = strings.TrimSpace(n); n != "" {
			wantInCluster[n] = true
		}
	}
	seen := map[string]bool{}
	for i, s := range subjects {
		subjects[i].DaemonConfig = confs[s.Name]
		delete(confs, s.Name)
		if wantInCluster[s.Name] {
			subjects[i].InCluster = true
			delete(wantInCluster, s.Name)
		}
		if seen[s.Name] || s.Name == "floor" {
			return bench.Config{}, fmt.Errorf("subject name %q is taken", s.Name)
		}
		seen[s.Name] = true
		for _, p := range []*string{&subjects[i].Shim, &subjects[i].Daemon} {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return bench.Config{}, err
			}
			if _, err := os.Stat(abs); err != nil {
				return bench.Config{}, fmt.Errorf("subject %s: %w", s.Name, err)
			}
			*p = abs
		}
	}
	for n := range wantInCluster {
		return bench.Config{}, fmt.Errorf("-in-cluster %s: no such subject", n)
	}
	for n := range confs {
		return bench.Config{}, fmt.Errorf("-daemon-conf %s: no such subject", n)
	}
	ip, err := exec.LookPath(*ipBin)
	if err != nil {
		return bench.Config{}, err
	}
	if *timeBin != "" {
		if _, err := os.Stat(*timeBin); err != nil {
			fmt.Fprintf(stderr, "mt-bench: %v; short-process RSS will not be measured\n", err)
			*timeBin = ""
		}
	}
	outAbs, err := filepath.Abs(*out)
	if err != nil {
		return bench.Config{}, err
	}
	return bench.Config{
		Mode: *mode, Subjects: subjects, PluginsDir: *plugins, AssetDirs: filepath.SplitList(*assets),
		OutDir: outAbs, NodeName: *node, Commit: *commit, IPBin: ip, TimeBin: *timeBin, DaemonLogLevel: *logLevel,
	}, nil
}
