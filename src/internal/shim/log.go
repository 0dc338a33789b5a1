package shim

import (
	"io"
	"log/slog"
	"os"
)

// levelNone is above every level we emit: upstream's "panic" level logs
// nothing but panics, and the shim never panics on purpose.
const levelNone = slog.LevelError + 8

// parseLevel maps upstream's level names onto slog levels.
func parseLevel(name string) slog.Level {
	switch name {
	case "debug":
		return slog.LevelDebug
	case "verbose":
		return slog.LevelInfo
	case "error":
		return slog.LevelError
	default: // "panic" and unset: upstream's default is silent
		return levelNone
	}
}

// newLogger builds the shim's logger from its config. The shim is a
// short-lived process, so a plain appending file is enough; rotation is the
// daemon's business.
func newLogger(conf *Config, stderr io.Writer) (*slog.Logger, func()) {
	var writers []io.Writer
	closeFn := func() {}
	if conf.LogToStderr {
		writers = append(writers, stderr)
	}
	if conf.LogFile != "" {
		if f, err := os.OpenFile(conf.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
			writers = append(writers, f)
			closeFn = func() { _ = f.Close() }
		}
	}
	if len(writers) == 0 {
		return slog.New(slog.DiscardHandler), closeFn
	}
	h := slog.NewTextHandler(io.MultiWriter(writers...), &slog.HandlerOptions{Level: parseLevel(conf.LogLevel)})
	return slog.New(h).With("component", "multus-shim"), closeFn
}
