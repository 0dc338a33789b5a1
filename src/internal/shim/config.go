package shim

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/multus-thick/multus-thick/src/api"
)

// Defaults for the shim's own keys.
const (
	// DefaultReadinessTimeout is how long ADD/CHECK/GC/STATUS wait for
	// /readyz, as upstream does (60 s at 100 ms).
	DefaultReadinessTimeout = 60 * time.Second
	// DefaultTimeout bounds one whole invocation. Upstream has none; a
	// runtime that gives up earlier just kills us.
	DefaultTimeout = 5 * time.Minute
	readinessPoll  = 100 * time.Millisecond
)

// Config is what the shim reads from its stdin config (00-multus.conf):
// api.ShimConf with the defaults and bounds applied.
// Every other key is passed to the daemon untouched, inside the raw bytes.
type Config struct {
	CNIVersion       string
	SocketDir        string
	LogFile          string
	LogLevel         string
	LogToStderr      bool
	ReadinessTimeout time.Duration
	Timeout          time.Duration
	// ReportDelErrors makes DEL fail when the daemon fails it. Off by
	// default: upstream always exits 0 on DEL (PR #1084), and a runtime
	// retries a failing DEL forever.
	ReportDelErrors bool
}

// ParseConfig reads the shim's keys from the runtime's stdin config.
func ParseConfig(stdin []byte) (*Config, error) {
	var raw api.ShimConf
	if err := json.Unmarshal(stdin, &raw); err != nil {
		return nil, fmt.Errorf("parse network config: %w", err)
	}
	conf := &Config{
		CNIVersion:       raw.CNIVersion,
		SocketDir:        raw.DaemonSocketDir,
		LogFile:          raw.LogFile,
		LogLevel:         raw.LogLevel,
		LogToStderr:      raw.LogToStderr,
		ReadinessTimeout: DefaultReadinessTimeout,
		Timeout:          DefaultTimeout,
		ReportDelErrors:  raw.ReportDelErrors,
	}
	if conf.SocketDir == "" {
		conf.SocketDir = api.DefaultSocketDir
	}
	if err := parseDuration("shimReadinessTimeout", raw.ReadinessTimeout, &conf.ReadinessTimeout); err != nil {
		return nil, err
	}
	if err := parseDuration("shimTimeout", raw.Timeout, &conf.Timeout); err != nil {
		return nil, err
	}
	return conf, nil
}

func parseDuration(key, value string, dst *time.Duration) error {
	if value == "" {
		return nil
	}
	d, err := time.ParseDuration(value)
	if err != nil {
		return fmt.Errorf("%q: %w", key, err)
	}
	if d <= 0 {
		return fmt.Errorf("%q: must be > 0, got %s", key, value)
	}
	*dst = d
	return nil
}
