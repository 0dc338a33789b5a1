package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/multus-thick/multus-thick/src/api"
)

// DefaultPath is where upstream's DaemonSet mounts daemon-config.json.
const DefaultPath = "/etc/cni/net.d/multus.d/daemon-config.json"

// AutoMode is the multusConfigFile value that makes the daemon generate
// 00-multus.conf from the primary CNI config.
const AutoMode = "auto"

// Upstream defaults (multus-thick-behaviour.md §3.2, §3.3) and ours.
const (
	DefaultSocketDir        = api.DefaultSocketDir
	DefaultCNIConfigDir     = "/etc/cni/net.d"
	DefaultLogLevel         = "panic"
	DefaultBinDir           = "/opt/cni/bin"
	DefaultCNIDir           = "/var/lib/cni/multus"
	DefaultConfDir          = "/etc/cni/multus/net.d"
	DefaultType             = "multus-shim"
	DefaultNetworkName      = "multus-cni-network"
	DefaultDelegateTimeout  = 2 * time.Minute
	DefaultMaxConcurrent    = 16
	DefaultRequestTimeout   = 5 * time.Minute
	DefaultShutdownGrace    = 10 * time.Second
	DefaultShutdownDrain    = 10 * time.Second
	DefaultReadinessTimeout = 45 * time.Second
	DefaultAPIQPS           = 50
	DefaultAPIBurst         = 50
	DefaultPodLookupTimeout = 10 * time.Second
	DefaultAPITimeout       = 10 * time.Second
	DefaultNADRetryTimeout  = 5 * time.Second
	// Tenant bounds (README "Security model" says why each default).
	DefaultMaxNetworksPerPod   = 32
	DefaultMaxNADConfigBytes   = 64 << 10
	DefaultMaxRequestBytes     = 1 << 20
	DefaultMaxDelegatesPerPod  = 4
	DefaultRequestBodyTimeout  = 10 * time.Second
	DefaultPrimarySettlePeriod = 5 * time.Second
	// MemoryLimitAuto sets the Go memory limit from the cgroup's limit;
	// MemoryLimitOff leaves the runtime's default (or GOMEMLIMIT).
	MemoryLimitAuto = "auto"
	MemoryLimitOff  = "off"
	// A failed DEL is retried with backoff up to DefaultDeleteRetryBackoff
	// between attempts, and given up (record kept) after DefaultDeleteRetryMaxAge.
	DefaultDeleteRetryBackoff = 2 * time.Minute
	DefaultDeleteRetryMaxAge  = time.Hour
	DefaultReconcileInterval  = 5 * time.Minute
	// addedInterfaceEvents values: one AddedInterface event per interface
	// (upstream's, the default), one per pod listing every interface, or
	// none (each event is one API request per ADD).
	EventsPerInterface = "perInterface"
	EventsPerPod       = "perPod"
	EventsNone         = "none"
)

// Config is daemon-config.json after defaults, flags and validation. Field
// tags are the file's keys; a key is matched case-insensitively, as
// encoding/json (and so upstream) does.
type Config struct {
	// Server keys (upstream's ControllerNetConf).
	SocketDir          string              `json:"socketDir"`
	ChrootDir          string              `json:"chrootDir"`
	LogFile            string              `json:"logFile"`
	LogLevel           string              `json:"logLevel"`
	LogToStderr        bool                `json:"logToStderr"`
	LogOptions         LogOptions          `json:"logOptions"`
	MetricsPort        int                 `json:"metricsPort"`
	EnablePprof        bool                `json:"enablePprof"`
	ConnectionLimit    int                 `json:"connectionLimit"`
	PerNodeCertificate *PerNodeCertificate `json:"perNodeCertificate"`

	// Generation keys (upstream's MultusConf).
	MultusConfigFile       string          `json:"multusConfigFile"`
	CNIConfigDir           string          `json:"cniConfigDir"`
	MultusAutoconfigDir    string          `json:"multusAutoconfigDir"`
	MultusMasterCNI        string          `json:"multusMasterCNI"`
	CNIVersion             string          `json:"cniVersion"`
	ForceCNIVersion        bool            `json:"forceCNIVersion"`
	OverrideNetworkName    bool            `json:"overrideNetworkName"`
	ReadinessIndicatorFile string          `json:"readinessindicatorfile"`
	Type                   string          `json:"type"`
	Name                   string          `json:"name"`
	Capabilities           map[string]bool `json:"capabilities"`
	SkipConfigWatch        bool            `json:"skipConfigWatch"`

	// Request-time keys (§3.3). The daemon reads binDir and cniDir itself
	// (for /delegate); the others reach requests through the override.
	BinDir                string            `json:"binDir"`
	CNIDir                string            `json:"cniDir"`
	ConfDir               string            `json:"confDir"`
	ClusterNetwork        string            `json:"clusterNetwork"`
	DefaultNetworks       []string          `json:"defaultNetworks"`
	Delegates             []json.RawMessage `json:"delegates"`
	NamespaceIsolation    bool              `json:"namespaceIsolation"`
	GlobalNamespaces      string            `json:"globalNamespaces"`
	SystemNamespaces      []string          `json:"systemNamespaces"`
	MultusNamespace       string            `json:"multusNamespace"`
	RetryDeleteOnError    bool              `json:"retryDeleteOnError"`
	AuxiliaryCNIChainName string            `json:"auxiliaryCNIChainName"`

	// Ours: bounds and behaviour upstream hard-codes or lacks.
	DelegateTimeout        Duration `json:"delegateTimeout"`
	MaxConcurrentDelegates int      `json:"maxConcurrentDelegates"`
	RequestTimeout         Duration `json:"requestTimeout"`
	DeleteConfOnExit       bool     `json:"deleteConfOnExit"`
	ShutdownGracePeriod    Duration `json:"shutdownGracePeriod"`
	ShutdownDrainPeriod    Duration `json:"shutdownDrainPeriod"`       // all but /readyz served after SIGTERM; 0: none
	ReadinessTimeout       Duration `json:"readinessIndicatorTimeout"` // bounds every wait for readinessindicatorfile

	// Ours: what one tenant may cost the node.
	MaxNetworksPerPod  int      `json:"maxNetworksPerPod"`
	MaxNADConfigBytes  int      `json:"maxNADConfigBytes"`
	MaxRequestBytes    int      `json:"maxRequestBytes"`
	MaxDelegatesPerPod int      `json:"maxDelegatesPerPod"`
	RequestBodyTimeout Duration `json:"requestBodyTimeout"`
	// MemoryLimit is "auto" (90% of the cgroup's memory limit), "off", or
	// a size in bytes with an optional Ki/Mi/Gi suffix.
	MemoryLimit string `json:"memoryLimit"`
	// MetricsBindAddress is the metrics listener's IP; empty is every
	// interface, as upstream.
	MetricsBindAddress string `json:"metricsBindAddress"`
	// PprofOnAllInterfaces is the explicit ask to serve pprof on every
	// interface; without it enablePprof needs a metricsBindAddress.
	PprofOnAllInterfaces bool `json:"pprofOnAllInterfaces"`
	// PrimarySettlePeriod is how long a vanished primary config must stay
	// gone before a replacement is adopted.
	PrimarySettlePeriod Duration `json:"primarySettlePeriod"`
	// AddedInterfaceEvents is EventsPerInterface, EventsPerPod or EventsNone.
	AddedInterfaceEvents string `json:"addedInterfaceEvents"`

	// Ours: failed DELs are retried in the background (maximum backoff,
	// give-up age); scratch caches whose pod and netns are gone are
	// deleted every reconcileInterval unless disableReconcile.
	DeleteRetryBackoff Duration `json:"deleteRetryBackoff"`
	DeleteRetryMaxAge  Duration `json:"deleteRetryMaxAge"`
	ReconcileInterval  Duration `json:"reconcileInterval"`
	DisableReconcile   bool     `json:"disableReconcile"`

	// Ours: Kubernetes client.
	Kubeconfig       string   `json:"kubeconfig"`
	APIQPS           float32  `json:"apiQPS"`
	APIBurst         int      `json:"apiBurst"`
	PodLookupTimeout Duration `json:"podLookupTimeout"`
	APITimeout       Duration `json:"apiTimeout"`
	NADRetryTimeout  Duration `json:"nadRetryTimeout"`

	// Keys copied into 00-multus.conf for the shim.
	DaemonSocketDir      string   `json:"daemonSocketDir"`
	ShimReadinessTimeout Duration `json:"shimReadinessTimeout"`
	ReportDelErrors      bool     `json:"reportDelErrors"`
	ShimTimeout          Duration `json:"shimTimeout"`

	// Path is the file the config came from (used in messages).
	Path string `json:"-"`
	// Warnings are values upstream tolerates and so do we: each says which
	// key was ignored and what is used instead. The composition root logs
	// them once the logger exists.
	Warnings []string `json:"-"`
	// Raw holds every top-level key of the file, as written, with the keys
	// given as flags replaced by their flag values. Keys are spelled as in
	// the file, except flag keys, which use the canonical spelling.
	Raw map[string]json.RawMessage `json:"-"`
}

// LogOptions are the lumberjack rotation settings of logFile.
type LogOptions struct {
	MaxAge     int  `json:"maxAge"`
	MaxSize    int  `json:"maxSize"`
	MaxBackups int  `json:"maxBackups"`
	Compress   bool `json:"compress"`
}

// PerNodeCertificate is upstream's per-node client certificate block.
type PerNodeCertificate struct {
	Enabled             bool     `json:"enabled"`
	BootstrapKubeconfig string   `json:"bootstrapKubeconfig"`
	CertDir             string   `json:"certDir"`
	CertDuration        Duration `json:"certDuration"`
}

// Duration is a JSON duration string such as "90s" or "2m".
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalJSON accepts a Go duration string; null leaves the value as is.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"30s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration string such as \"30s\", got %q", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration string form.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Load reads the file at path, parses it with Parse and checks the files
// the config names (see dropMissingKubeconfig).
func Load(path string, overrides map[string]any) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read daemon config: %w", err)
	}
	c, err := Parse(path, data, overrides)
	if err != nil {
		return nil, err
	}
	c.dropMissingKubeconfig(os.Stat)
	return c, nil
}

// dropMissingKubeconfig turns a kubeconfig key naming a file that does not
// exist into a warning and in-cluster credentials. Configs from upstream's
// thin era carry such a key (the thin entrypoint wrote that file for the
// shim); upstream's thick daemon ignores it, so refusing to start over it
// would break a config upstream runs. Any other stat error is left to the
// Kubernetes client, which names the file.
func (c *Config) dropMissingKubeconfig(stat func(string) (os.FileInfo, error)) {
	if c.Kubeconfig == "" {
		return
	}
	if _, err := stat(c.Kubeconfig); errors.Is(err, fs.ErrNotExist) {
		c.warn("kubeconfig", "file %s does not exist; using in-cluster credentials", c.Kubeconfig)
		c.Kubeconfig = ""
	}
}

func (c *Config) warn(key, format string, args ...any) {
	c.Warnings = append(c.Warnings, keyErr(key, format, args...).Error())
}

// Parse builds the Config from the file's bytes (name is used in errors)
// and the flag overrides (daemon-config key → value). Unknown keys are
// accepted, because upstream configs carry many; a known key with a wrong
// type or value is an error naming the file and the key.
func Parse(name string, data []byte, overrides map[string]any) (*Config, error) {
	raw := map[string]json.RawMessage{}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %w", name, err)
	}
	if raw == nil { // the file said "null"
		raw = map[string]json.RawMessage{}
	}
	for key, v := range overrides {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("flag for %q: %w", key, err)
		}
		for k := range raw {
			if strings.EqualFold(k, key) {
				delete(raw, k)
			}
		}
		raw[key] = b
	}
	c := defaults()
	c.Path, c.Raw = name, raw
	if err := decodeKeys(raw, c); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c.normalizeLogLevel()
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

func defaults() *Config {
	return &Config{
		SocketDir:              DefaultSocketDir,
		LogLevel:               DefaultLogLevel,
		LogOptions:             LogOptions{MaxAge: 5, MaxSize: 100, MaxBackups: 5, Compress: true},
		MultusConfigFile:       AutoMode,
		CNIConfigDir:           DefaultCNIConfigDir,
		Type:                   DefaultType,
		BinDir:                 DefaultBinDir,
		CNIDir:                 DefaultCNIDir,
		ConfDir:                DefaultConfDir,
		DelegateTimeout:        Duration(DefaultDelegateTimeout),
		MaxConcurrentDelegates: DefaultMaxConcurrent,
		RequestTimeout:         Duration(DefaultRequestTimeout),
		ShutdownGracePeriod:    Duration(DefaultShutdownGrace),
		ShutdownDrainPeriod:    Duration(DefaultShutdownDrain),
		ReadinessTimeout:       Duration(DefaultReadinessTimeout),
		APIQPS:                 DefaultAPIQPS,
		APIBurst:               DefaultAPIBurst,
		PodLookupTimeout:       Duration(DefaultPodLookupTimeout),
		APITimeout:             Duration(DefaultAPITimeout),
		NADRetryTimeout:        Duration(DefaultNADRetryTimeout),
		MaxNetworksPerPod:      DefaultMaxNetworksPerPod,
		MaxNADConfigBytes:      DefaultMaxNADConfigBytes,
		MaxRequestBytes:        DefaultMaxRequestBytes,
		MaxDelegatesPerPod:     DefaultMaxDelegatesPerPod,
		RequestBodyTimeout:     Duration(DefaultRequestBodyTimeout),
		MemoryLimit:            MemoryLimitAuto,
		PrimarySettlePeriod:    Duration(DefaultPrimarySettlePeriod),
		AddedInterfaceEvents:   EventsPerInterface,
		DeleteRetryBackoff:     Duration(DefaultDeleteRetryBackoff),
		DeleteRetryMaxAge:      Duration(DefaultDeleteRetryMaxAge),
		ReconcileInterval:      Duration(DefaultReconcileInterval),
	}
}

// Has reports whether the file or a flag set key (case-insensitively).
func (c *Config) Has(key string) bool {
	_, _, ok := lookupFold(c.Raw, key)
	return ok
}

// Auto reports whether the daemon generates 00-multus.conf itself.
func (c *Config) Auto() bool { return strings.EqualFold(c.MultusConfigFile, AutoMode) }

// RequestOverride is what the server copies over every /cni request's
// config (§2.6): every top-level key of the file. In auto mode the
// readiness indicator is the config manager's business, so the key is
// stripped and requests do not poll for the file.
func (c *Config) RequestOverride() map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(c.Raw))
	for k, v := range c.Raw {
		if c.Auto() && strings.EqualFold(k, "readinessindicatorfile") {
			continue
		}
		out[k] = v
	}
	return out
}

// ShimSocketDir is the socket dir as the shim on the host sees it: the
// daemonSocketDir key, or else socketDir. The reference DaemonSet mounts
// the host's /run as /host/run, so a socketDir under /host/ names the host
// path without that prefix; copying "/host/run/multus/" verbatim would send
// every shim to a directory that does not exist on the host.
func (c *Config) ShimSocketDir() string {
	if c.DaemonSocketDir != "" {
		return c.DaemonSocketDir
	}
	if rest, ok := strings.CutPrefix(c.SocketDir, "/host/"); ok {
		return "/" + rest
	}
	return c.SocketDir
}

// KeyError is a known key with a wrong type or value.
type KeyError struct {
	Key    string
	Reason string
}

func (e *KeyError) Error() string { return fmt.Sprintf("%q: %s", e.Key, e.Reason) }

func keyErr(key, format string, args ...any) error {
	return &KeyError{Key: key, Reason: fmt.Sprintf(format, args...)}
}

// RawKey returns a top-level key's JSON as written (case-insensitively).
func (c *Config) RawKey(key string) (json.RawMessage, bool) {
	_, v, ok := lookupFold(c.Raw, key)
	return v, ok
}

// MemoryLimitBytes parses memoryLimit: 0 with ok for "auto" (the caller
// reads the cgroup), -1 for "off", else the size in bytes.
func (c *Config) MemoryLimitBytes() (int64, error) {
	v := strings.TrimSpace(c.MemoryLimit)
	switch strings.ToLower(v) {
	case "", MemoryLimitAuto:
		return 0, nil
	case MemoryLimitOff:
		return -1, nil
	}
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}} {
		if rest, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = rest, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf(`want "auto", "off" or a size such as "400Mi", got %q`, c.MemoryLimit)
	}
	return n * mult, nil
}

// PprofAllowed reports whether pprof may be served: it is asked for, and
// the listener is not on every interface unless that is asked for too
// (pprof exposes heap contents and costs CPU on demand).
func (c *Config) PprofAllowed() bool {
	if !c.EnablePprof {
		return false
	}
	return c.PprofOnAllInterfaces || !allInterfaces(c.MetricsBindAddress)
}

func allInterfaces(addr string) bool {
	ip := net.ParseIP(addr)
	return addr == "" || (ip != nil && ip.IsUnspecified())
}
