package netconf

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	cnitypes "github.com/containernetworking/cni/pkg/types"
)

// Defaults from upstream Multus (multus-thick-behaviour.md §3.3).
const (
	DefaultConfDir         = "/etc/cni/multus/net.d"
	DefaultCNIDir          = "/var/lib/cni/multus"
	DefaultBinDir          = "/opt/cni/bin"
	DefaultMultusNamespace = "kube-system"
	DefaultLogLevel        = "panic"
)

// NetConf is the effective Multus configuration of one request: the config
// the runtime passed (00-multus.conf plus runtimeConfig), with daemon-config's
// top-level keys merged over it.
type NetConf struct {
	cnitypes.NetConf

	ClusterNetwork  string            `json:"clusterNetwork,omitempty"`
	DefaultNetworks []string          `json:"defaultNetworks,omitempty"`
	RawDelegates    []json.RawMessage `json:"delegates,omitempty"`

	ConfDir    string `json:"confDir,omitempty"`
	CNIDir     string `json:"cniDir,omitempty"`
	BinDir     string `json:"binDir,omitempty"`
	Kubeconfig string `json:"kubeconfig,omitempty"`

	LogFile     string      `json:"logFile,omitempty"`
	LogLevel    string      `json:"logLevel,omitempty"`
	LogToStderr *bool       `json:"logToStderr,omitempty"`
	LogOptions  *LogOptions `json:"logOptions,omitempty"`

	NamespaceIsolation bool `json:"namespaceIsolation,omitempty"`
	// RawGlobalNamespaces is the comma-separated globalNamespaces key;
	// GlobalNamespaces is its parsed form (default ["default"]).
	RawGlobalNamespaces string   `json:"globalNamespaces,omitempty"`
	GlobalNamespaces    []string `json:"-"`
	SystemNamespaces    []string `json:"systemNamespaces,omitempty"`
	MultusNamespace     string   `json:"multusNamespace,omitempty"`

	ReadinessIndicatorFile string `json:"readinessindicatorfile,omitempty"`
	RetryDeleteOnError     bool   `json:"retryDeleteOnError,omitempty"`
	AuxiliaryCNIChainName  string `json:"auxiliaryCNIChainName,omitempty"`

	RuntimeConfig *RuntimeConfig `json:"runtimeConfig,omitempty"`

	// Delegates is the ordered list this request works on. With
	// clusterNetwork set it stays empty until the resolver fills it.
	Delegates []*Delegate `json:"-"`
}

// LogOptions are the rotation settings of logFile.
type LogOptions struct {
	MaxAge     *int  `json:"maxAge,omitempty"`
	MaxSize    *int  `json:"maxSize,omitempty"`
	MaxBackups *int  `json:"maxBackups,omitempty"`
	Compress   *bool `json:"compress,omitempty"`
}

// RuntimeConfig is what the runtime put in runtimeConfig, and what each
// delegate receives as capability arguments.
type RuntimeConfig struct {
	PortMaps          []*PortMapEntry `json:"portMappings,omitempty"`
	Bandwidth         *BandwidthEntry `json:"bandwidth,omitempty"`
	IPs               []string        `json:"ips,omitempty"`
	Mac               string          `json:"mac,omitempty"`
	InfinibandGUID    string          `json:"infinibandGUID,omitempty"`
	DeviceID          string          `json:"deviceID,omitempty"`
	CNIDeviceInfoFile string          `json:"CNIDeviceInfoFile,omitempty"`
}

// PortMapEntry is one portMappings entry.
type PortMapEntry struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol,omitempty"`
	HostIP        string `json:"hostIP,omitempty"`
}

// BandwidthEntry is the bandwidth capability.
type BandwidthEntry struct {
	IngressRate  int `json:"ingressRate"`
	IngressBurst int `json:"ingressBurst"`
	EgressRate   int `json:"egressRate"`
	EgressBurst  int `json:"egressBurst"`
}

// ErrNoNetworks means the config names neither clusterNetwork nor delegates.
var ErrNoNetworks = errors.New(`config has neither "clusterNetwork" nor "delegates"`)

// Load parses the effective Multus config of a request and applies
// upstream's defaults. Inline delegates are loaded when clusterNetwork is
// empty; the first of them is the master.
func Load(data []byte) (*NetConf, error) {
	conf := &NetConf{}
	if err := json.Unmarshal(data, conf); err != nil {
		return nil, fmt.Errorf("parse multus config: %w", err)
	}
	// prevResult is decoded into RawPrevResult and not used by the daemon.
	conf.applyDefaults()
	if conf.ClusterNetwork == "" && len(conf.RawDelegates) == 0 {
		return nil, ErrNoNetworks
	}
	if conf.ClusterNetwork != "" {
		return conf, nil
	}
	for i, raw := range conf.RawDelegates {
		d, err := LoadDelegate(raw)
		if err != nil {
			return nil, fmt.Errorf("delegates[%d]: %w", i, err)
		}
		conf.Delegates = append(conf.Delegates, d)
	}
	conf.Delegates[0].MasterPlugin = true
	return conf, nil
}

func (c *NetConf) applyDefaults() {
	if c.ConfDir == "" {
		c.ConfDir = DefaultConfDir
	}
	if c.CNIDir == "" {
		c.CNIDir = DefaultCNIDir
	}
	if c.BinDir == "" {
		c.BinDir = DefaultBinDir
	}
	if c.LogLevel == "" {
		c.LogLevel = DefaultLogLevel
	}
	if c.MultusNamespace == "" {
		c.MultusNamespace = DefaultMultusNamespace
	}
	if c.SystemNamespaces == nil {
		c.SystemNamespaces = []string{"kube-system"}
	}
	c.GlobalNamespaces = SplitNamespaces(c.RawGlobalNamespaces)
}

// SplitNamespaces parses globalNamespaces: comma separated, trimmed; empty
// means ["default"].
func SplitNamespaces(raw string) []string {
	var out []string
	for _, ns := range strings.Split(raw, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			out = append(out, ns)
		}
	}
	if len(out) == 0 {
		return []string{"default"}
	}
	return out
}

// IsSystemNamespace reports whether namespace is one of systemNamespaces.
// Upstream compares the pod NAME here; we compare the namespace.
func (c *NetConf) IsSystemNamespace(namespace string) bool {
	for _, ns := range c.SystemNamespaces {
		if ns == namespace {
			return true
		}
	}
	return false
}
