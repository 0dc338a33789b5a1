package host

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestMergeDaemonJSON(t *testing.T) {
	t.Parallel()
	const wrapper = "/usr/local/bin/mt-runc"
	want := func(extra map[string]any) map[string]any {
		m := map[string]any{
			"default-runtime": "mt-runc",
			"runtimes":        map[string]any{"mt-runc": map[string]any{"path": wrapper}},
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name        string
		in          string
		wantChanged bool
		want        map[string]any
		wantErr     bool
	}{
		{name: "no file", in: "", wantChanged: true, want: want(nil)},
		{name: "null", in: "null", wantChanged: true, want: want(nil)},
		{name: "keeps other settings", in: `{"log-level":"warn","storage-driver":"overlay2"}`, wantChanged: true,
			want: want(map[string]any{"log-level": "warn", "storage-driver": "overlay2"})},
		{name: "keeps other runtimes", in: `{"runtimes":{"crun":{"path":"/usr/bin/crun"}},"default-runtime":"crun"}`, wantChanged: true,
			want: map[string]any{"default-runtime": "mt-runc", "runtimes": map[string]any{
				"crun": map[string]any{"path": "/usr/bin/crun"}, "mt-runc": map[string]any{"path": wrapper}}}},
		{name: "fixes a stale wrapper path", in: `{"runtimes":{"mt-runc":{"path":"/old"}},"default-runtime":"mt-runc"}`, wantChanged: true, want: want(nil)},
		{name: "already merged", in: `{"runtimes":{"mt-runc":{"path":"/usr/local/bin/mt-runc"}},"default-runtime":"mt-runc"}`, wantChanged: false,
			want: want(nil)},
		{name: "not JSON", in: `{"runtimes":`, wantErr: true},
		{name: "runtimes not an object", in: `{"runtimes":[]}`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, changed, err := MergeDaemonJSON([]byte(tc.in), wrapper)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %s", out)
				}
				return
			}
			if err != nil {
				t.Fatalf("MergeDaemonJSON: %v", err)
			}
			if changed != tc.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tc.wantChanged)
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("output is not JSON: %v: %s", err, out)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
