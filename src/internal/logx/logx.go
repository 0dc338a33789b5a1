// Package logx builds the daemon's log/slog logger from its configuration:
// upstream's level names, stderr and/or a rotated log file. It keeps no
// package state; the composition root owns the logger and passes it down.
package logx

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"gopkg.in/natefinch/lumberjack.v2"
)

// LevelPanic is upstream's quietest level. Upstream logs almost nothing at
// it; we still let errors through, because a daemon that fails silently
// (§3.13) is the harder problem to debug.
const LevelPanic = slog.LevelError

// Options configure the logger.
type Options struct {
	// Level is an upstream level name: panic, error, verbose or debug.
	Level string
	// File, if set, receives the log, rotated by lumberjack.
	File string
	// ToStderr also writes the log to Stderr.
	ToStderr bool
	// Rotation of File.
	MaxAgeDays, MaxSizeMB, MaxBackups int
	Compress                          bool
	// Stderr is the process's stderr (injected for tests).
	Stderr io.Writer
}

// ParseLevel maps upstream's level names onto slog levels:
// panic → error, error → warn (upstream logs warnings at its error level),
// verbose → info, debug → debug.
func ParseLevel(name string) (slog.Level, error) {
	switch strings.ToLower(name) {
	case "panic", "":
		return LevelPanic, nil
	case "error":
		return slog.LevelWarn, nil
	case "verbose":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	}
	return 0, fmt.Errorf("unknown log level %q (want panic, error, verbose or debug)", name)
}

// New returns the logger and a closer for the log file. When neither File
// nor ToStderr is set, it logs to Stderr anyway: upstream then exits without
// a word on fatal errors (§3.13), which is worse than a log nobody asked for.
func New(o Options) (*slog.Logger, io.Closer, error) {
	level, err := ParseLevel(o.Level)
	if err != nil {
		return nil, nil, err
	}
	var writers []io.Writer
	closer := io.Closer(nopCloser{})
	if o.File != "" {
		lj := &lumberjack.Logger{
			Filename:   o.File,
			MaxAge:     o.MaxAgeDays,
			MaxSize:    o.MaxSizeMB,
			MaxBackups: o.MaxBackups,
			Compress:   o.Compress,
		}
		writers = append(writers, lj)
		closer = lj
	}
	if (o.ToStderr || o.File == "") && o.Stderr != nil {
		writers = append(writers, o.Stderr)
	}
	h := slog.NewTextHandler(io.MultiWriter(writers...), &slog.HandlerOptions{Level: level})
	return slog.New(h), closer, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
