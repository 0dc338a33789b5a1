package config_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/multus-thick/multus-thick/src/internal/autoconf"
	"github.com/multus-thick/multus-thick/src/internal/config"
	"github.com/multus-thick/multus-thick/src/internal/shim"
)

// The shim's keys make the whole trip: daemon-config.json -> the keys the
// daemon puts into 00-multus.conf -> the generated file -> what the shim
// parses from its stdin.
func TestShimConfRoundTrip(t *testing.T) {
	cases := []struct {
		name   string
		daemon string
		want   shim.Config
	}{
		{
			name: "every shim key set",
			daemon: `{"cniVersion":"1.0.0","multusAutoconfigDir":"/d","socketDir":"/host/run/m/",
				"logFile":"/var/log/multus.log","logLevel":"debug","logToStderr":true,
				"shimReadinessTimeout":"7s","shimTimeout":"90s","reportDelErrors":true}`,
			want: shim.Config{CNIVersion: "1.0.0", SocketDir: "/run/m/", LogFile: "/var/log/multus.log",
				LogLevel: "debug", LogToStderr: true, ReadinessTimeout: 7 * time.Second,
				Timeout: 90 * time.Second, ReportDelErrors: true},
		},
		{
			name:   "nothing set: the shim's defaults",
			daemon: `{"cniVersion":"0.4.0","multusAutoconfigDir":"/d"}`,
			want: shim.Config{CNIVersion: "0.4.0", SocketDir: config.DefaultSocketDir,
				ReadinessTimeout: shim.DefaultReadinessTimeout, Timeout: shim.DefaultTimeout},
		},
		{
			name:   "daemonSocketDir wins, keys in another case",
			daemon: `{"cniVersion":"1.1.0","multusAutoconfigDir":"/d","daemonSocketDir":"/var/run/m/","ShimTimeout":"1m"}`,
			want: shim.Config{CNIVersion: "1.1.0", SocketDir: "/var/run/m/",
				ReadinessTimeout: shim.DefaultReadinessTimeout, Timeout: time.Minute},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("daemon-config.json", []byte(tc.daemon), nil)
			if err != nil {
				t.Fatal(err)
			}
			spec := autoconf.Spec{CNIVersion: cfg.CNIVersion, Type: "multus-shim", Name: "multus-cni-network",
				Extra: cfg.ShimConf().Keys()}
			primary := []byte(`{"cniVersion":"` + cfg.CNIVersion + `","name":"p","type":"bridge"}`)
			file, err := autoconf.Generate(spec, "/etc/cni/net.d/10-p.conf", primary)
			if err != nil {
				t.Fatal(err)
			}
			got, err := shim.ParseConfig(file)
			if err != nil {
				t.Fatalf("shim cannot read the generated file: %v\n%s", err, file)
			}
			if *got != tc.want {
				t.Errorf("shim read %+v\nwant %+v\nfrom %s", *got, tc.want, file)
			}
			// A key the shim does not know stays out of its share.
			var m map[string]json.RawMessage
			if err := json.Unmarshal(file, &m); err != nil {
				t.Fatal(err)
			}
			if _, ok := m["multusAutoconfigDir"]; ok {
				t.Errorf("daemon-only key leaked into the shim's keys: %s", file)
			}
		})
	}
}
