//go:build e2e

package e2eutil

import (
	"encoding/json"
	"testing"
)

func TestWithMaster(t *testing.T) {
	cases := []struct {
		fixture string
		master  string
		want    []string // the master of the config, then of each plugin that has one
		same    bool     // the config stays byte for byte as the fixture wrote it
	}{
		{fixture: "nad/macvlan-hostlocal-low.yaml", master: "ens5", want: []string{"ens5"}},
		{fixture: "nad/macvlan-hostlocal-low.yaml", master: "eth0", want: []string{"eth0"}, same: true},
		{fixture: "nad/cni-fault-add-error.yaml", master: "bond0", want: []string{"bond0"}},
		{fixture: "nad/bridge-hostlocal.yaml", master: "ens5", want: nil, same: true},
	}
	for _, tc := range cases {
		t.Run(tc.fixture+"@"+tc.master, func(t *testing.T) {
			orig, err := LoadNAD(tc.fixture, "ns")
			if err != nil {
				t.Fatal(err)
			}
			nad, err := LoadNAD(tc.fixture, "ns", WithMaster(tc.master))
			if err != nil {
				t.Fatal(err)
			}
			if same := nad.Spec.Config == orig.Spec.Config; same != tc.same {
				t.Errorf("config unchanged = %v, want %v:\n%s", same, tc.same, nad.Spec.Config)
			}
			conf := map[string]any{}
			if err := json.Unmarshal([]byte(nad.Spec.Config), &conf); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range append([]any{conf}, anySlice(conf["plugins"])...) {
				if v, ok := m.(map[string]any)["master"]; ok {
					got = append(got, v.(string))
				}
			}
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Errorf("masters %v, want %v", got, tc.want)
			}
		})
	}
}

func anySlice(v any) []any { s, _ := v.([]any); return s }
