package actions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/multus-thick/multus-thick/lab/internal/repro"
)

// reproArgs parses KEY=VALUE arguments (the make variables, passed through as they are);
// an empty value means unset, an unknown key is an error.
func reproArgs(args []string, keys ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("%w: %q is not KEY=VALUE", errUsage, a)
		}
		known := false
		for _, want := range keys {
			known = known || k == want
		}
		if !known {
			return nil, fmt.Errorf("%w: unknown variable %s (known: %s)", errUsage, k, strings.Join(keys, " "))
		}
		if v != "" {
			out[k] = v
		}
	}
	return out, nil
}

func suffix() string {
	b := make([]byte, 2)
	_, _ = rand.Read(b) // crypto/rand does not fail on Linux
	return hex.EncodeToString(b)
}

// reproOutDir is $ARTIFACTS/repro, relative to the repository when inside it, so the
// summary prints paths a contributor can paste.
func (e *env) reproOutDir() string {
	dir := filepath.Join(e.lab().artifacts, "repro")
	if rel, err := filepath.Rel(e.repoRoot, dir); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return dir
}

// runReproDelegate is make repro-delegate.
func runReproDelegate(ctx context.Context, e *env, args []string) error {
	v, err := reproArgs(args, "PLUGIN", "NAD", "POD", "NODE", "COUNT", "KEEP", "TIMEOUT", "RECORDER", "IMAGE")
	if err != nil {
		return err
	}
	opts := repro.Options{
		Plugin: v["PLUGIN"], NAD: v["NAD"], Pod: v["POD"], Node: v["NODE"],
		Keep:     v["KEEP"] == "1" || strings.EqualFold(v["KEEP"], "true"),
		Recorder: v["RECORDER"], Image: v["IMAGE"], OutDir: e.reproOutDir(), Cluster: e.lab().name,
	}
	if opts.Recorder == "" {
		opts.Recorder = filepath.Join(e.repoRoot, "bin", "mt-repro-rec")
	}
	if c := v["COUNT"]; c != "" {
		if opts.Count, err = strconv.Atoi(c); err != nil {
			return fmt.Errorf("%w: COUNT=%q is not a number", errUsage, c)
		}
	}
	if t := v["TIMEOUT"]; t != "" {
		if opts.Timeout, err = time.ParseDuration(t); err != nil {
			return fmt.Errorf("%w: TIMEOUT=%q: %v", errUsage, t, err)
		}
	}
	if opts.NAD == "" {
		return fmt.Errorf("%w: usage: make repro-delegate NAD=<nad.yaml> [PLUGIN=<binary>] [POD=<pod.yaml>] [NODE=<worker>] [COUNT=N] [KEEP=1]", errUsage)
	}
	client, err := e.kubeClient(e.cluster(io.Discard))
	if err != nil {
		return err
	}
	// A reproduced failure is the result, not an error: only a repro that could not run
	// (bad input, lab trouble, evidence not collected) fails the command.
	_, err = repro.Delegate(ctx, repro.Env{
		Kube: client, Nodes: repro.DockerNodes{}, Progress: e.progress, Out: e.stdout,
		Now: time.Now, Suffix: suffix,
	}, opts)
	return err
}

// runReproReplay is make repro-replay.
func runReproReplay(ctx context.Context, e *env, args []string) error {
	v, err := reproArgs(args, "DIR", "PLUGIN", "NODE")
	if err != nil {
		return err
	}
	if v["DIR"] == "" {
		return fmt.Errorf("%w: usage: make repro-replay DIR=_artifacts/repro/<name>-<time> [PLUGIN=<new build>] [NODE=<node>]", errUsage)
	}
	_, err = repro.Replay(ctx, repro.ReplayEnv{
		Nodes: repro.DockerNodes{}, Progress: e.progress, Out: e.stdout, Now: time.Now, Suffix: suffix,
	}, repro.ReplayOptions{Dir: v["DIR"], Plugin: v["PLUGIN"], Node: v["NODE"]})
	return err
}
