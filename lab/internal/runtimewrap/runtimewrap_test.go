package runtimewrap

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want Invocation
	}{
		{"docker create", []string{"--root", "/run/r", "--log", "/l.json", "--log-format", "json", "create", "--bundle", "/b/x", "--pid-file", "/p", "x"},
			Invocation{Command: "create", SpecPath: "/b/x/config.json"}},
		{"create short bundle", []string{"create", "-b", "/b/y/", "y"}, Invocation{Command: "create", SpecPath: "/b/y/config.json"}},
		{"run with equals", []string{"--systemd-cgroup", "run", "--bundle=/b/z", "z"}, Invocation{Command: "run", SpecPath: "/b/z/config.json"}},
		{"create in cwd", []string{"create", "c"}, Invocation{Command: "create", SpecPath: "/cwd/config.json"}},
		{"exec process", []string{"--root", "/r", "exec", "--process", "/tmp/p.json", "--detach", "id"},
			Invocation{Command: "exec", SpecPath: "/tmp/p.json", ProcessOnly: true}},
		{"exec short", []string{"exec", "-p", "/tmp/q.json", "id"}, Invocation{Command: "exec", SpecPath: "/tmp/q.json", ProcessOnly: true}},
		{"exec without process file", []string{"exec", "id", "ls"}, Invocation{Command: "exec"}},
		{"state", []string{"--root", "/r", "state", "id"}, Invocation{Command: "state"}},
		{"version flag only", []string{"--version"}, Invocation{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Parse(tc.args, "/cwd"); got != tc.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tc.args, got, tc.want)
			}
		})
	}
}

func TestDropCaps(t *testing.T) {
	t.Parallel()
	drop := []string{"CAP_SYS_RESOURCE"}
	tests := []struct {
		name        string
		in          string
		processOnly bool
		wantChanged bool
		wantCaps    map[string][]string // expected process.capabilities when changed
	}{
		{
			name:        "privileged config",
			in:          `{"ociVersion":"1.0.2","process":{"args":["sh"],"capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE"],"effective":["CAP_SYS_RESOURCE"],"permitted":["CAP_CHOWN","CAP_SYS_RESOURCE","CAP_KILL"]}},"root":{"path":"rootfs"}}`,
			wantChanged: true,
			wantCaps:    map[string][]string{"bounding": {"CAP_CHOWN"}, "effective": {}, "permitted": {"CAP_CHOWN", "CAP_KILL"}},
		},
		{
			name:        "exec process file",
			in:          `{"args":["ls"],"capabilities":{"bounding":["CAP_SYS_RESOURCE","CAP_NET_ADMIN"],"ambient":["CAP_SYS_RESOURCE"]}}`,
			processOnly: true,
			wantChanged: true,
			wantCaps:    map[string][]string{"bounding": {"CAP_NET_ADMIN"}, "ambient": {}},
		},
		{name: "unprivileged config untouched", in: `{"process":{"capabilities":{"bounding":["CAP_CHOWN"]}}}`},
		{name: "no capabilities", in: `{"process":{"args":["sh"]}}`},
		{name: "null capabilities", in: `{"args":["sh"],"capabilities":null}`, processOnly: true},
		{name: "no process", in: `{"root":{"path":"rootfs"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, changed, err := DropCaps([]byte(tc.in), tc.processOnly, drop)
			if err != nil {
				t.Fatalf("DropCaps: %v", err)
			}
			if changed != tc.wantChanged {
				t.Fatalf("changed = %v, want %v", changed, tc.wantChanged)
			}
			if !changed {
				if string(out) != tc.in {
					t.Errorf("unchanged spec rewritten: %s", out)
				}
				return
			}
			var doc map[string]any
			if err := json.Unmarshal(out, &doc); err != nil {
				t.Fatalf("output is not JSON: %v", err)
			}
			proc := doc
			if !tc.processOnly {
				proc = doc["process"].(map[string]any)
				if doc["root"] == nil {
					t.Errorf("root field lost: %s", out)
				}
			}
			if proc["args"] == nil {
				t.Errorf("args lost: %s", out)
			}
			got := map[string][]string{}
			for k, v := range proc["capabilities"].(map[string]any) {
				got[k] = []string{}
				for _, c := range v.([]any) {
					got[k] = append(got[k], c.(string))
				}
			}
			if !reflect.DeepEqual(got, tc.wantCaps) {
				t.Errorf("capabilities = %v, want %v", got, tc.wantCaps)
			}
		})
	}
}

func TestDropCapsRejectsGarbage(t *testing.T) {
	t.Parallel()
	if _, _, err := DropCaps([]byte(`{"process":`), false, []string{"CAP_SYS_RESOURCE"}); err == nil {
		t.Fatal("want an error for truncated JSON")
	}
}
