package config

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/multus-thick/multus-thick/fixtures"
)

const minimalAuto = `{"cniVersion":"0.3.1","multusAutoconfigDir":"/etc/cni/net.d"}`

func TestParseUpstreamFixtures(t *testing.T) {
	t.Parallel()
	c, err := Parse("daemon-config.json", fixtures.MustRead("cni/daemon-config-upstream.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ChrootDir != "/hostroot" || c.CNIVersion != "0.3.1" || c.LogLevel != "verbose" || !c.LogToStderr ||
		c.CNIConfigDir != "/host/etc/cni/net.d" || !c.Auto() || c.SocketDir != "/host/run/multus/" {
		t.Fatalf("upstream keys not read: %+v", c)
	}
	// Keys the file does not set keep upstream's and our defaults.
	if c.BinDir != DefaultBinDir || c.CNIDir != DefaultCNIDir || c.ConfDir != DefaultConfDir ||
		c.DelegateTimeout.D() != 2*time.Minute || c.MaxConcurrentDelegates != 16 ||
		c.RequestTimeout.D() != 5*time.Minute || c.ShutdownGracePeriod.D() != 10*time.Second ||
		c.APIQPS != 50 || c.APIBurst != 50 || c.PodLookupTimeout.D() != 10*time.Second ||
		c.NADRetryTimeout.D() != 5*time.Second || c.DeleteConfOnExit || c.Has("connectionLimit") {
		t.Fatalf("defaults wrong: %+v", c)
	}
	if got := c.ShimSocketDir(); got != "/run/multus/" {
		t.Fatalf("ShimSocketDir = %q, want the host path /run/multus/", got)
	}

	e2e, err := Parse("daemon-config.json", fixtures.MustRead("cni/daemon-config-upstream-e2e.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if e2e.ConnectionLimit != 1 || e2e.MetricsPort != 9091 || !e2e.EnablePprof ||
		e2e.PerNodeCertificate == nil || e2e.PerNodeCertificate.CertDuration.D() != 10*time.Minute {
		t.Fatalf("e2e keys not read: %+v", e2e)
	}
	if _, ok := e2e.Raw["someFutureUpstreamKey"]; !ok {
		t.Fatal("unknown key dropped from Raw; the request override must carry it")
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		file      string
		overrides map[string]any
		wantErr   []string // substrings; nil means success
		check     func(*testing.T, *Config)
	}{
		{name: "minimal auto", file: minimalAuto, check: func(t *testing.T, c *Config) {
			if c.SocketDir != DefaultSocketDir || c.LogLevel != "panic" || c.Type != "multus-shim" {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "not an object", file: `[1,2]`, wantErr: []string{"daemon-config.json", "not a JSON object"}},
		{name: "truncated", file: `{"cniVersion":`, wantErr: []string{"daemon-config.json", "not a JSON object"}},
		{name: "connectionLimit zero", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","connectionLimit":0}`,
			wantErr: []string{`daemon-config.json: "connectionLimit": must be > 0, got 0`}},
		{name: "connectionLimit negative", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","connectionLimit":-3}`,
			wantErr: []string{`"connectionLimit": must be > 0, got -3`}},
		{name: "connectionLimit string", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","connectionLimit":"4"}`,
			wantErr: []string{`"connectionLimit": want int, got string`}},
		{name: "logToStderr not bool", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","logToStderr":"yes"}`,
			wantErr: []string{`"logToStderr": want bool`}},
		{name: "bad duration", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","delegateTimeout":"soon"}`,
			wantErr: []string{`"delegateTimeout"`, `"soon"`}},
		{name: "duration as number", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","requestTimeout":30}`,
			wantErr: []string{`"requestTimeout"`, "duration string"}},
		{name: "zero duration", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","shutdownGracePeriod":"0s"}`,
			wantErr: []string{`"shutdownGracePeriod": must be > 0`}},
		{name: "bad log level", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","logLevel":"loud"}`,
			wantErr: []string{`"logLevel"`, `"loud"`}},
		{name: "log level case", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","logLevel":"DEBUG"}`,
			check: func(t *testing.T, c *Config) {
				if c.LogLevel != "debug" {
					t.Errorf("LogLevel = %q", c.LogLevel)
				}
			}},
		{name: "capability not bool", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","capabilities":{"portMappings":"yes"}}`,
			wantErr: []string{`"capabilities": want bool, got string`}},
		{name: "metricsPort out of range", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","metricsPort":70000}`,
			wantErr: []string{`"metricsPort"`}},
		{name: "maxConcurrentDelegates zero", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","maxConcurrentDelegates":0}`,
			wantErr: []string{`"maxConcurrentDelegates": must be > 0, got 0`}},
		{name: "auto needs autoconfig dir", file: `{"cniVersion":"0.3.1"}`,
			wantErr: []string{`"multusAutoconfigDir": must be set`}},
		{name: "auto needs cniVersion", file: `{"multusAutoconfigDir":"/d"}`, wantErr: []string{`"cniVersion": must be set`}},
		{name: "master CNI with a path", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","multusMasterCNI":"../x.conf"}`,
			wantErr: []string{`"multusMasterCNI"`}},
		{name: "several errors all named", file: `{"multusAutoconfigDir":"/d","cniVersion":"0.3.1","connectionLimit":0,"apiBurst":0}`,
			wantErr: []string{`"connectionLimit"`, `"apiBurst"`}},
		{name: "non-auto needs no autoconfig dir", file: `{"multusConfigFile":"/etc/cni/multus.conf"}`,
			check: func(t *testing.T, c *Config) {
				if c.Auto() {
					t.Error("Auto() true for a path")
				}
			}},
		{name: "keys match case-insensitively", file: `{"cniversion":"1.0.0","MULTUSAUTOCONFIGDIR":"/d","ReadinessIndicatorFile":"/r"}`,
			check: func(t *testing.T, c *Config) {
				if c.CNIVersion != "1.0.0" || c.ReadinessIndicatorFile != "/r" {
					t.Errorf("%+v", c)
				}
			}},
		{name: "unknown keys accepted", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","whatever":{"a":1},"kubeconfig":"/k"}`,
			check: func(t *testing.T, c *Config) {
				if c.Kubeconfig != "/k" {
					t.Errorf("kubeconfig = %q", c.Kubeconfig)
				}
			}},
		{name: "flag wins over file", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","logLevel":"error"}`,
			overrides: map[string]any{"logLevel": "debug", "cniVersion": "1.0.0"},
			check: func(t *testing.T, c *Config) {
				if c.LogLevel != "debug" || c.CNIVersion != "1.0.0" {
					t.Errorf("%+v", c)
				}
				if string(c.Raw["cniVersion"]) != `"1.0.0"` {
					t.Errorf("Raw cniVersion = %s; the request override must see the flag", c.Raw["cniVersion"])
				}
			}},
		{name: "flag replaces differently-cased key", file: `{"cniversion":"0.3.1","multusAutoconfigDir":"/d"}`,
			overrides: map[string]any{"cniVersion": "0.4.0"},
			check: func(t *testing.T, c *Config) {
				if _, dup := c.Raw["cniversion"]; dup || c.CNIVersion != "0.4.0" {
					t.Errorf("Raw = %v", c.Raw)
				}
			}},
		{name: "flag value validated", file: minimalAuto, overrides: map[string]any{"logLevel": "shout"},
			wantErr: []string{`"logLevel"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse("daemon-config.json", []byte(tc.file), tc.overrides)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("no error, want %q", tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestRequestOverride(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		file      string
		wantKeys  []string
		wantNoKey string
	}{
		{name: "auto strips readiness", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","readinessindicatorfile":"/r","socketDir":"/s"}`,
			wantKeys: []string{"cniVersion", "multusAutoconfigDir", "socketDir"}, wantNoKey: "readinessindicatorfile"},
		{name: "auto strips any case", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","readinessIndicatorFile":"/r"}`,
			wantKeys: []string{"cniVersion"}, wantNoKey: "readinessIndicatorFile"},
		{name: "non-auto keeps readiness", file: `{"multusConfigFile":"/x.conf","readinessindicatorfile":"/r"}`,
			wantKeys: []string{"readinessindicatorfile", "multusConfigFile"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse("f", []byte(tc.file), nil)
			if err != nil {
				t.Fatal(err)
			}
			o := c.RequestOverride()
			for _, k := range tc.wantKeys {
				if _, ok := o[k]; !ok {
					t.Errorf("key %q missing from %v", k, keys(o))
				}
			}
			if _, ok := o[tc.wantNoKey]; tc.wantNoKey != "" && ok {
				t.Errorf("key %q present", tc.wantNoKey)
			}
		})
	}
}

func TestShimSocketDir(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, file, want string }{
		{"default", `{"multusConfigFile":"/x"}`, "/run/multus/"},
		{"container mount of host /run", `{"multusConfigFile":"/x","socketDir":"/host/run/multus/"}`, "/run/multus/"},
		{"plain dir", `{"multusConfigFile":"/x","socketDir":"/tmp/mt1"}`, "/tmp/mt1"},
		{"explicit wins", `{"multusConfigFile":"/x","socketDir":"/host/run/m","daemonSocketDir":"/var/run/m"}`, "/var/run/m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse("f", []byte(tc.file), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ShimSocketDir(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
