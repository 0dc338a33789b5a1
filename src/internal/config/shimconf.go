package config

import (
	"encoding/json"

	"github.com/multus-thick/multus-thick/src/api"
)

// ShimConf is the shim's share of 00-multus.conf: the shim's keys as the
// file (or a flag) gives them, and the socket dir as the host sees it
// (ShimSocketDir). Values are copied as written, not re-rendered from the
// parsed config, so a "60s" stays "60s" in the generated file.
func (c *Config) ShimConf() api.ShimConf {
	sc := api.ShimConf{CNIVersion: c.CNIVersion, DaemonSocketDir: c.ShimSocketDir()}
	for key, dst := range map[string]any{
		"logFile": &sc.LogFile, "logLevel": &sc.LogLevel, "logToStderr": &sc.LogToStderr,
		"shimReadinessTimeout": &sc.ReadinessTimeout, "shimTimeout": &sc.Timeout,
		"reportDelErrors": &sc.ReportDelErrors,
	} {
		if v, ok := c.RawKey(key); ok {
			// decodeKeys already accepted the value with the same Go type
			// (a string, a bool, or a duration string), so it decodes.
			_ = json.Unmarshal(v, dst)
		}
	}
	return sc
}
