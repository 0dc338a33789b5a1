package daemon

import (
	"encoding/json"
	"path/filepath"

	"github.com/multus-thick/multus-thick/src/internal/autoconf"
	"github.com/multus-thick/multus-thick/src/internal/config"
)

// confKeys are the daemon-config keys copied into 00-multus.conf when set
// (§3.2), besides the shim's own keys (api.ShimConf). Everything else
// reaches requests through the server-side override instead.
var confKeys = []string{
	"binDir", "cniDir", "logOptions",
	"namespaceIsolation", "globalNamespaces", "auxiliaryCNIChainName",
}

// generatedSpec is what auto mode writes besides the primary's share.
func generatedSpec(cfg *config.Config) autoconf.Spec {
	extra := map[string]json.RawMessage{}
	for _, k := range confKeys {
		if v, ok := cfg.RawKey(k); ok {
			extra[k] = v
		}
	}
	// The shim's keys, the socket dir among them (the host's view of it).
	for k, v := range cfg.ShimConf().Keys() {
		extra[k] = v
	}
	return autoconf.Spec{
		CNIVersion: cfg.CNIVersion,
		Type:       cfg.Type,
		// Upstream always names the network this, unless
		// overrideNetworkName takes the primary's name.
		Name:                config.DefaultNetworkName,
		OverrideNetworkName: cfg.OverrideNetworkName,
		Capabilities:        cfg.Capabilities,
		Extra:               extra,
	}
}

// confPath is the Multus config the daemon put in cniConfigDir.
func confPath(cfg *config.Config) string {
	if cfg.Auto() {
		return filepath.Join(cfg.CNIConfigDir, autoconf.ConfName)
	}
	return filepath.Join(cfg.CNIConfigDir, filepath.Base(cfg.MultusConfigFile))
}
