package config

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantPath   string
		wantVer    bool
		wantOver   map[string]any
		wantErr    string
		wantIsHelp bool
	}{
		{name: "no flags", args: nil, wantPath: DefaultPath, wantOver: map[string]any{}},
		{name: "config", args: []string{"-config", "/tmp/d.json"}, wantPath: "/tmp/d.json", wantOver: map[string]any{}},
		{name: "config double dash", args: []string{"--config=/tmp/d.json"}, wantPath: "/tmp/d.json", wantOver: map[string]any{}},
		{name: "version", args: []string{"-version"}, wantPath: DefaultPath, wantVer: true, wantOver: map[string]any{}},
		{name: "metricsPort", args: []string{"-metricsPort", "9091"}, wantPath: DefaultPath,
			wantOver: map[string]any{"metricsPort": 9091}},
		{name: "metricsPort not a number", args: []string{"-metricsPort", "x"}, wantErr: "-metricsPort"},
		{name: "every string flag", wantPath: DefaultPath, args: []string{
			"-cni-conf-dir=/c", "-cni-bin-dir=/b", "-cni-version=1.0.0", "-multus-conf-file=auto",
			"-multus-cni-conf-dir=/m", "-multus-autoconfig-dir=/a", "-multus-master-cni-file-name=10-x.conf",
			"-global-namespaces=a,b", "-multus-log-level=debug", "-multus-log-file=/l", "-readiness-indicator-file=/r",
		}, wantOver: map[string]any{
			"cniConfigDir": "/c", "binDir": "/b", "cniVersion": "1.0.0", "multusConfigFile": "auto",
			"confDir": "/m", "multusAutoconfigDir": "/a", "multusMasterCNI": "10-x.conf",
			"globalNamespaces": "a,b", "logLevel": "debug", "logFile": "/l", "readinessindicatorfile": "/r",
		}},
		{name: "every bool flag", wantPath: DefaultPath, args: []string{
			"-namespace-isolation", "-multus-log-to-stderr=true", "-override-network-name",
			"-skip-config-watch", "-force-cni-version", "-multus-log-to-stderr=false",
		}, wantOver: map[string]any{
			"namespaceIsolation": true, "logToStderr": false, "overrideNetworkName": true,
			"skipConfigWatch": true, "forceCNIVersion": true,
		}},
		{name: "bool set false explicitly still overrides", args: []string{"-namespace-isolation=false"},
			wantPath: DefaultPath, wantOver: map[string]any{"namespaceIsolation": false}},
		{name: "thin-only additional-bin-dir", args: []string{"-additional-bin-dir=/x"}, wantErr: "-additional-bin-dir"},
		{name: "thin-only binDir", args: []string{"-binDir", "/x"}, wantErr: "-binDir"},
		{name: "thin-only cleanup-config-on-exit", args: []string{"-cleanup-config-on-exit"}, wantErr: "deleteConfOnExit"},
		{name: "thin-only cniDir", args: []string{"-cniDir=/x"}, wantErr: "-cniDir"},
		{name: "thin-only multus-kubeconfig-file-host", args: []string{"-multus-kubeconfig-file-host=/k"}, wantErr: "-multus-kubeconfig-file-host"},
		{name: "thin-only rename-conf-file", args: []string{"-rename-conf-file"}, wantErr: "-rename-conf-file"},
		{name: "thin-only restart-crio", args: []string{"-restart-crio=true"}, wantErr: "-restart-crio"},
		{name: "thin-only skip-multus-binary-copy", args: []string{"-skip-multus-binary-copy"}, wantErr: "-skip-multus-binary-copy"},
		{name: "thin-only multus-bin-file", args: []string{"-multus-bin-file=/x"}, wantErr: "-multus-bin-file"},
		{name: "thin-only skip-tls-verify", args: []string{"-skip-tls-verify"}, wantErr: "-skip-tls-verify"},
		{name: "unknown flag", args: []string{"-frobnicate"}, wantErr: "frobnicate"},
		{name: "positional argument", args: []string{"extra"}, wantErr: `"extra"`},
		{name: "help", args: []string{"-h"}, wantErr: "help requested", wantIsHelp: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			f, err := ParseFlags(tc.args, &out)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("no error, want one containing %q", tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q does not contain %q", err, tc.wantErr)
				}
				if IsHelp(err) != tc.wantIsHelp {
					t.Errorf("IsHelp = %v", IsHelp(err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.ConfigPath != tc.wantPath || f.Version != tc.wantVer {
				t.Errorf("path %q version %v", f.ConfigPath, f.Version)
			}
			if !reflect.DeepEqual(f.Overrides, tc.wantOver) {
				t.Errorf("overrides = %v, want %v", f.Overrides, tc.wantOver)
			}
		})
	}
}

// Every flag's key must be a key the config knows, or the flag would be a
// silent no-op.
func TestFlagKeysAreConfigKeys(t *testing.T) {
	t.Parallel()
	for _, kf := range keyFlags {
		c, err := Parse("f", []byte(`{"multusConfigFile":"/x"}`), nil)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		typ := reflect.TypeOf(*c)
		for i := range typ.NumField() {
			if name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ","); name == kf.key {
				found = true
			}
		}
		if !found {
			t.Errorf("flag -%s maps to unknown key %q", kf.name, kf.key)
		}
	}
}
