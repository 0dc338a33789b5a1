package cli

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestParse(t *testing.T) {
	dir := t.TempDir()
	bin := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	shim, daemon, shim2, daemon2 := bin("shim"), bin("daemon"), bin("shim2"), bin("daemon2")
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantErr    bool
		wantMode   string
		wantShims  []string
		wantAssets int
		wantInCl   []bool
		wantConf   []map[string]string
	}{
		{
			name:     "env gives the pair and the mode",
			env:      map[string]string{"SHIM_BIN": shim, "DAEMON_BIN": daemon, "BENCH": "quick"},
			wantMode: "quick", wantShims: []string{shim}, wantAssets: 2,
		},
		{
			name:     "flags win over env, compare adds a subject",
			args:     []string{"-shim", shim2, "-daemon", daemon2, "-mode", "full", "-compare", "other=" + shim + ":" + daemon},
			env:      map[string]string{"SHIM_BIN": shim, "DAEMON_BIN": daemon, "BENCH": "quick"},
			wantMode: "full", wantShims: []string{shim2, shim}, wantAssets: 2,
		},
		{
			name:     "in-cluster marks the named subject only",
			args:     []string{"-shim", shim, "-daemon", daemon, "-compare", "upstream=" + shim2 + ":" + daemon2, "-in-cluster", "upstream"},
			wantMode: "full", wantShims: []string{shim, shim2}, wantAssets: 2, wantInCl: []bool{false, true},
		},
		{
			name: "daemon-conf sets keys of the named subject only",
			args: []string{"-shim", shim, "-daemon", daemon, "-compare", "perPod=" + shim + ":" + daemon,
				"-daemon-conf", "perPod:addedInterfaceEvents=perPod", "-daemon-conf", "perPod:maxPods=5"},
			wantMode: "full", wantShims: []string{shim, shim}, wantAssets: 2,
			wantConf: []map[string]string{nil, {"addedInterfaceEvents": `"perPod"`, "maxPods": "5"}},
		},
		{name: "daemon-conf names no subject", args: []string{"-shim", shim, "-daemon", daemon, "-daemon-conf", "other:a=b"}, wantErr: true},
		{name: "malformed daemon-conf", args: []string{"-shim", shim, "-daemon", daemon, "-daemon-conf", "multus-thick=a"}, wantErr: true},
		{name: "in-cluster names no subject", args: []string{"-shim", shim, "-daemon", daemon, "-in-cluster", "upstrem"}, wantErr: true},
		{name: "missing binary", args: []string{"-shim", filepath.Join(dir, "nope"), "-daemon", daemon}, wantErr: true},
		{name: "bad mode", args: []string{"-shim", shim, "-daemon", daemon, "-mode", "slow"}, wantErr: true},
		{name: "malformed compare", args: []string{"-shim", shim, "-daemon", daemon, "-compare", "x=" + shim}, wantErr: true},
		{name: "duplicate subject name", args: []string{"-shim", shim, "-daemon", daemon, "-compare", "multus-thick=" + shim + ":" + daemon}, wantErr: true},
		{name: "floor is reserved", args: []string{"-name", "floor", "-shim", shim, "-daemon", daemon}, wantErr: true},
		{name: "stray argument", args: []string{"-shim", shim, "-daemon", daemon, "extra"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parse(tc.args, env(tc.env), io.Discard)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if cfg.Mode != tc.wantMode {
				t.Errorf("mode %q, want %q", cfg.Mode, tc.wantMode)
			}
			if len(cfg.Subjects) != len(tc.wantShims) {
				t.Fatalf("subjects %+v, want shims %v", cfg.Subjects, tc.wantShims)
			}
			for i, s := range cfg.Subjects {
				if s.Shim != tc.wantShims[i] || !filepath.IsAbs(s.Daemon) {
					t.Errorf("subject %d = %+v, want shim %s and an absolute daemon path", i, s, tc.wantShims[i])
				}
			}
			for i, want := range tc.wantConf {
				got := map[string]string{}
				for k, v := range cfg.Subjects[i].DaemonConfig {
					got[k] = string(v)
				}
				if len(got) != len(want) {
					t.Errorf("subject %s DaemonConfig = %v, want %v", cfg.Subjects[i].Name, got, want)
				}
				for k, v := range want {
					if got[k] != v {
						t.Errorf("subject %s key %s = %s, want %s", cfg.Subjects[i].Name, k, got[k], v)
					}
				}
			}
			for i, want := range tc.wantInCl {
				if cfg.Subjects[i].InCluster != want {
					t.Errorf("subject %s InCluster = %v, want %v", cfg.Subjects[i].Name, cfg.Subjects[i].InCluster, want)
				}
			}
			if len(cfg.AssetDirs) != tc.wantAssets || !filepath.IsAbs(cfg.OutDir) {
				t.Errorf("asset dirs %v, out %q", cfg.AssetDirs, cfg.OutDir)
			}
		})
	}
}
