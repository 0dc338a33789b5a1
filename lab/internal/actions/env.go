package actions

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/multus-thick/multus-thick/lab/internal/step"
)

// env is what commands get from the composition root: streams, settings read once from the
// environment, a logger and a progress reporter. Nothing below reads the environment.
type env struct {
	stdout, stderr io.Writer
	log            *slog.Logger
	progress       *step.Reporter
	repoRoot       string
	cache          string // MT_CACHE, default /var/cache/multus-thick
	logDir         string // MT_LOG_DIR, default /var/log/mt/lab
	vars           map[string]string
	environ        []string
}

func newEnv(stdout, stderr io.Writer, environ []string) (*env, error) {
	vars := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	root, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("working directory: %w", err)
	}
	e := &env{
		stdout: stdout, stderr: stderr, repoRoot: root, vars: vars, environ: environ,
		cache:  get(vars, "MT_CACHE", "/var/cache/multus-thick"),
		logDir: get(vars, "MT_LOG_DIR", "/var/log/mt/lab"),
	}
	level := slog.LevelInfo
	if vars["LAB_DEBUG"] != "" {
		level = slog.LevelDebug
	}
	e.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	e.progress = &step.Reporter{Out: stderr, LogDir: e.logDir}
	return e, nil
}

// get returns vars[key] or def.
func get(vars map[string]string, key, def string) string {
	if v := vars[key]; v != "" {
		return v
	}
	return def
}
