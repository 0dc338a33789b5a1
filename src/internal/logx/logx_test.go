package logx

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		want    slog.Level
		wantErr bool
	}{
		{"panic", slog.LevelError, false},
		{"", slog.LevelError, false},
		{"error", slog.LevelWarn, false},
		{"verbose", slog.LevelInfo, false},
		{"Debug", slog.LevelDebug, false},
		{"trace", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseLevel(tc.name)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParseLevel(%q) = %v, %v", tc.name, got, err)
			}
		})
	}
}

func TestNewDestinations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		file         bool
		toStderr     bool
		wantStderr   bool
		wantFileLine bool
	}{
		{name: "neither set still logs to stderr", wantStderr: true},
		{name: "stderr only", toStderr: true, wantStderr: true},
		{name: "file only", file: true, wantFileLine: true},
		{name: "file and stderr", file: true, toStderr: true, wantStderr: true, wantFileLine: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			o := Options{Level: "verbose", ToStderr: tc.toStderr, Stderr: &stderr}
			path := filepath.Join(t.TempDir(), "multus.log")
			if tc.file {
				o.File = path
			}
			log, closer, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			log.Info("hello", "k", "v")
			log.Debug("hidden")
			if err := closer.Close(); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(stderr.String(), "hello"); got != tc.wantStderr {
				t.Errorf("stderr has line = %v; stderr %q", got, stderr.String())
			}
			if strings.Contains(stderr.String(), "hidden") {
				t.Error("debug line logged at verbose")
			}
			data, _ := os.ReadFile(path)
			if got := strings.Contains(string(data), "hello"); got != tc.wantFileLine {
				t.Errorf("file has line = %v", got)
			}
		})
	}
}

func TestNewBadLevel(t *testing.T) {
	t.Parallel()
	if _, _, err := New(Options{Level: "loud"}); err == nil || !strings.Contains(err.Error(), `"loud"`) {
		t.Fatalf("err = %v", err)
	}
}
