package config

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
		{name: "drain and readiness defaults", file: minimalAuto, check: func(t *testing.T, c *Config) {
			if c.ShutdownDrainPeriod.D() != 10*time.Second || c.ReadinessTimeout.D() != 45*time.Second {
				t.Errorf("shutdownDrainPeriod %s, readinessIndicatorTimeout %s", c.ShutdownDrainPeriod.D(), c.ReadinessTimeout.D())
			}
		}},
		{name: "zero drain means none", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","shutdownDrainPeriod":"0s"}`,
			check: func(t *testing.T, c *Config) {
				if c.ShutdownDrainPeriod != 0 {
					t.Errorf("shutdownDrainPeriod = %s", c.ShutdownDrainPeriod.D())
				}
			}},
		{name: "negative drain", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","shutdownDrainPeriod":"-1s"}`,
			wantErr: []string{`"shutdownDrainPeriod": must not be negative`}},
		{name: "zero readiness timeout", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","readinessIndicatorTimeout":"0s"}`,
			wantErr: []string{`"readinessIndicatorTimeout": must be > 0`}},
		{name: "zero delete retry age", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","deleteRetryMaxAge":"0s"}`,
			wantErr: []string{`"deleteRetryMaxAge": must be > 0`}},
		{name: "pending-delete and reconcile keys", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","deleteRetryBackoff":"10s",` +
			`"deleteRetryMaxAge":"30m","reconcileInterval":"1m","disableReconcile":true}`,
			check: func(t *testing.T, c *Config) {
				if c.DeleteRetryBackoff.D() != 10*time.Second || c.DeleteRetryMaxAge.D() != 30*time.Minute ||
					c.ReconcileInterval.D() != time.Minute || !c.DisableReconcile {
					t.Errorf("got %v %v %v %v", c.DeleteRetryBackoff, c.DeleteRetryMaxAge, c.ReconcileInterval, c.DisableReconcile)
				}
			}},
		{name: "unknown log level is a warning", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","logLevel":"loud"}`,
			check: func(t *testing.T, c *Config) {
				if c.LogLevel != DefaultLogLevel {
					t.Errorf("LogLevel = %q, want the default %q", c.LogLevel, DefaultLogLevel)
				}
				wantWarnings(t, c, `"logLevel": unknown level "loud"`)
			}},
		{name: "log level case", file: `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d","logLevel":"DEBUG"}`,
			check: func(t *testing.T, c *Config) {
				if c.LogLevel != "debug" {
					t.Errorf("LogLevel = %q", c.LogLevel)
				}
				wantWarnings(t, c)
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
		{name: "flag value validated", file: minimalAuto, overrides: map[string]any{"metricsPort": 70000},
			wantErr: []string{`"metricsPort"`}},
		{name: "flag log level as lenient as the key", file: minimalAuto, overrides: map[string]any{"logLevel": "shout"},
			check: func(t *testing.T, c *Config) {
				if c.LogLevel != DefaultLogLevel {
					t.Errorf("LogLevel = %q", c.LogLevel)
				}
				wantWarnings(t, c, `"logLevel": unknown level "shout"`)
			}},
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

// An upstream daemon-config that upstream's daemon runs must start ours:
// an unknown logLevel ("info" is a common guess, upstream has none) and a
// thin-era kubeconfig key naming a file that was never written are warnings.
func TestLoadUpstreamLeniency(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	present := filepath.Join(dir, "present.kubeconfig")
	if err := os.WriteFile(present, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	thinKubeconfig := "/etc/cni/net.d/multus.d/multus.kubeconfig"
	tests := []struct {
		name           string
		file           string
		wantLevel      string
		wantKubeconfig string
		wantWarnings   []string
	}{
		{name: "upstream reference config, no warning",
			file: `{"chrootDir":"/hostroot","cniVersion":"0.3.1","logLevel":"verbose","logToStderr":true,
			"cniConfigDir":"/host/etc/cni/net.d","multusAutoconfigDir":"/host/etc/cni/net.d",
			"multusConfigFile":"auto","socketDir":"/host/run/multus/"}`,
			wantLevel: "verbose"},
		{name: "unknown logLevel",
			file: `{"cniVersion":"0.3.1","logLevel":"info","logToStderr":true,
			"multusAutoconfigDir":"/host/etc/cni/net.d","multusConfigFile":"auto","socketDir":"/host/run/multus/"}`,
			wantLevel: "panic", wantWarnings: []string{`"logLevel": unknown level "info" (want panic, error, verbose or debug); using panic`}},
		{name: "thin-era kubeconfig that does not exist",
			file: `{"cniVersion":"0.3.1","logLevel":"debug","kubeconfig":"` + thinKubeconfig + `",
			"multusAutoconfigDir":"/host/etc/cni/net.d","multusConfigFile":"auto"}`,
			wantLevel: "debug", wantWarnings: []string{`"kubeconfig": file ` + thinKubeconfig + ` does not exist; using in-cluster credentials`}},
		{name: "both at once", file: `{"cniVersion":"0.3.1","logLevel":"trace","kubeconfig":"` + thinKubeconfig + `","multusAutoconfigDir":"/d"}`,
			wantLevel: "panic", wantWarnings: []string{`"logLevel": unknown level "trace"`, `"kubeconfig": file`}},
		{name: "existing kubeconfig is kept", file: `{"cniVersion":"0.3.1","kubeconfig":"` + present + `","multusAutoconfigDir":"/d"}`,
			wantLevel: "panic", wantKubeconfig: present},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, fmt.Sprintf("daemon-config-%d.json", i))
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path, nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.LogLevel != tc.wantLevel || c.Kubeconfig != tc.wantKubeconfig {
				t.Errorf("logLevel %q kubeconfig %q, want %q %q", c.LogLevel, c.Kubeconfig, tc.wantLevel, tc.wantKubeconfig)
			}
			wantWarnings(t, c, tc.wantWarnings...)
		})
	}
}

// A kubeconfig that exists but cannot be read is not "missing": the client
// reports it, naming the file.
func TestDropMissingKubeconfigOnlyWhenAbsent(t *testing.T) {
	t.Parallel()
	c := &Config{Kubeconfig: "/k"}
	c.dropMissingKubeconfig(func(string) (os.FileInfo, error) { return nil, fs.ErrPermission })
	if c.Kubeconfig != "/k" || len(c.Warnings) != 0 {
		t.Fatalf("kubeconfig %q warnings %v, want the key kept without a warning", c.Kubeconfig, c.Warnings)
	}
}

// wantWarnings checks that c has exactly len(want) warnings, the i-th
// containing want[i].
func wantWarnings(t *testing.T, c *Config, want ...string) {
	t.Helper()
	if len(c.Warnings) != len(want) {
		t.Fatalf("warnings %q, want %d containing %q", c.Warnings, len(want), want)
	}
	for i, w := range want {
		if !strings.Contains(c.Warnings[i], w) {
			t.Errorf("warning %d = %q, want it to contain %q", i, c.Warnings[i], w)
		}
	}
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestTenantKeys(t *testing.T) {
	t.Parallel()
	keys := func(extra string) string {
		return `{"cniVersion":"0.3.1","multusAutoconfigDir":"/d"` + extra + `}`
	}
	c, err := Parse("daemon-config.json", []byte(keys("")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxNetworksPerPod != 32 || c.MaxNADConfigBytes != 65536 || c.MaxRequestBytes != 1<<20 ||
		c.MaxDelegatesPerPod != 4 || c.RequestBodyTimeout.D() != 10*time.Second || c.MemoryLimit != "auto" ||
		c.MetricsBindAddress != "" || c.PrimarySettlePeriod.D() != 5*time.Second {
		t.Fatalf("defaults: %+v", c)
	}
	tests := []struct {
		extra   string
		wantErr string
	}{
		{extra: `,"maxNetworksPerPod":8,"maxNADConfigBytes":1024,"maxRequestBytes":4096,"maxDelegatesPerPod":1,"requestBodyTimeout":"1s","primarySettlePeriod":"0s"`},
		{extra: `,"maxNetworksPerPod":0`, wantErr: `"maxNetworksPerPod": must be > 0`},
		{extra: `,"maxNADConfigBytes":-1`, wantErr: `"maxNADConfigBytes": must be > 0`},
		{extra: `,"maxRequestBytes":0`, wantErr: `"maxRequestBytes": must be > 0`},
		{extra: `,"maxDelegatesPerPod":0`, wantErr: `"maxDelegatesPerPod": must be > 0`},
		{extra: `,"requestBodyTimeout":"0s"`, wantErr: `"requestBodyTimeout": must be > 0`},
		{extra: `,"primarySettlePeriod":"-1s"`, wantErr: `"primarySettlePeriod": must not be negative`},
		{extra: `,"memoryLimit":"lots"`, wantErr: `"memoryLimit": want "auto", "off" or a size`},
		{extra: `,"memoryLimit":"0"`, wantErr: `"memoryLimit"`},
		{extra: `,"metricsBindAddress":"example.com"`, wantErr: `"metricsBindAddress": must be an IP address`},
		{extra: `,"metricsBindAddress":"127.0.0.1","memoryLimit":"400Mi"`},
	}
	for _, tc := range tests {
		_, err := Parse("daemon-config.json", []byte(keys(tc.extra)), nil)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.extra, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err = %v, want %q", tc.extra, err, tc.wantErr)
		}
	}
}

func TestMemoryLimitBytes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"": 0, "auto": 0, "AUTO": 0, "off": -1, "1048576": 1 << 20, "400Mi": 400 << 20, "512Ki": 512 << 10, "2Gi": 2 << 30,
	} {
		got, err := (&Config{MemoryLimit: in}).MemoryLimitBytes()
		if err != nil || got != want {
			t.Errorf("%q = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"-5", "1.5Gi", "Mi", "10MB", "99999999999999Gi"} {
		if _, err := (&Config{MemoryLimit: bad}).MemoryLimitBytes(); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPprofAllowed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    Config
		want bool
	}{
		{"off", Config{}, false},
		{"all interfaces by default: refused", Config{EnablePprof: true}, false},
		{"0.0.0.0: refused", Config{EnablePprof: true, MetricsBindAddress: "0.0.0.0"}, false},
		{":: refused", Config{EnablePprof: true, MetricsBindAddress: "::"}, false},
		{"loopback", Config{EnablePprof: true, MetricsBindAddress: "127.0.0.1"}, true},
		{"a node IP", Config{EnablePprof: true, MetricsBindAddress: "10.0.0.5"}, true},
		{"all interfaces, asked explicitly", Config{EnablePprof: true, PprofOnAllInterfaces: true}, true},
		{"explicit ask alone does not enable", Config{PprofOnAllInterfaces: true}, false},
	}
	for _, tc := range tests {
		if got := tc.c.PprofAllowed(); got != tc.want {
			t.Errorf("%s: PprofAllowed = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestAddedInterfaceEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, extra, want, wantErr string
	}{
		{name: "default is one event per interface", want: EventsPerInterface},
		{name: "perInterface", extra: `,"addedInterfaceEvents":"perInterface"`, want: EventsPerInterface},
		{name: "perPod", extra: `,"addedInterfaceEvents":"perPod"`, want: EventsPerPod},
		{name: "none", extra: `,"addedInterfaceEvents":"none"`, want: EventsNone},
		{name: "key matched case-insensitively", extra: `,"AddedInterfaceEvents":"none"`, want: EventsNone},
		{name: "unknown value names key, values and file", extra: `,"addedInterfaceEvents":"perNode"`,
			wantErr: `daemon-config.json: "addedInterfaceEvents": want "perInterface", "perPod" or "none", got "perNode"`},
		{name: "empty value", extra: `,"addedInterfaceEvents":""`, wantErr: `"addedInterfaceEvents": want`},
		{name: "wrong type", extra: `,"addedInterfaceEvents":1`, wantErr: `"addedInterfaceEvents"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("daemon-config.json", []byte(`{"cniVersion":"0.3.1","multusAutoconfigDir":"/d"`+tc.extra+`}`), nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.AddedInterfaceEvents != tc.want {
				t.Errorf("addedInterfaceEvents = %q, want %q", c.AddedInterfaceEvents, tc.want)
			}
		})
	}
}
