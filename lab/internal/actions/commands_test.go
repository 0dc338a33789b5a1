package actions

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunDispatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantErr    string
		wantStdout string
	}{
		{name: "no args prints usage", args: nil, wantStdout: "usage: lab"},
		{name: "help lists commands", args: []string{"help"}, wantStdout: "bake"},
		{name: "unknown command", args: []string{"nope"}, wantErr: `unknown command "nope"`},
		{name: "guard needs a verb", args: []string{"guard"}, wantErr: "guard: bad arguments"},
		{name: "bake takes no args", args: []string{"bake", "extra"}, wantErr: "bake: bad arguments"},
		{name: "repro-delegate needs a NAD", args: []string{"repro-delegate", "PLUGIN=/tmp/x"}, wantErr: "usage: make repro-delegate NAD="},
		{name: "repro-delegate refuses unknown variables", args: []string{"repro-delegate", "NAD=x", "PLUGINS=y"}, wantErr: "unknown variable PLUGINS"},
		{name: "repro-delegate wants KEY=VALUE", args: []string{"repro-delegate", "nad.yaml"}, wantErr: `"nad.yaml" is not KEY=VALUE`},
		{name: "repro-delegate COUNT is a number", args: []string{"repro-delegate", "NAD=x", "COUNT=many"}, wantErr: `COUNT="many" is not a number`},
		{name: "repro-replay needs a DIR", args: []string{"repro-replay"}, wantErr: "usage: make repro-replay DIR="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			err := Run(context.Background(), tc.args, &out, &errOut, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !strings.Contains(out.String(), tc.wantStdout) {
				t.Errorf("stdout %q lacks %q", out.String(), tc.wantStdout)
			}
		})
	}
}

func TestEveryCommandHasASummary(t *testing.T) {
	t.Parallel()
	for name, c := range commands {
		if c.summary == "" || c.run == nil {
			t.Errorf("command %q: summary %q, run set %v", name, c.summary, c.run != nil)
		}
	}
}
