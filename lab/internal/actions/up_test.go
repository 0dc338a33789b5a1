package actions

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
)

func names(list []action) []string {
	var out []string
	for _, a := range list {
		out = append(out, a.name)
	}
	return out
}

func TestActionLists(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cmd  string
		list []action
		want []action
	}{
		{"up", upActions, []action{hostAction, nodeImageAction, artifactsAction, clusterAction, loadAction, networkAction, daemonAction, draAction, nadsAction}},
		{"load", loadActions, []action{artifactsAction, loadAction}},
		{"deploy", deployActions, []action{artifactsAction, loadAction, daemonAction, draAction}},
	} {
		if got, want := names(tc.list), names(tc.want); !slices.Equal(got, want) {
			t.Errorf("%s runs %q, want %q", tc.cmd, got, want)
		}
		for _, a := range tc.list {
			if a.name == "" || a.run == nil {
				t.Errorf("%s: action %q has no name or no run", tc.cmd, a.name)
			}
		}
	}
	seen := map[string]bool{}
	for _, n := range names(upActions) {
		if seen[n] {
			t.Errorf("two actions named %q", n)
		}
		seen[n] = true
	}
}

func TestRunActionsStopsAtTheFirstFailure(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	var ran []string
	act := func(name string, err error) action {
		return action{name, func(*env, context.Context, *upState) error { ran = append(ran, name); return err }}
	}
	e := &env{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	err := e.runActions(context.Background(), &upState{}, []action{act("a", nil), act("b", boom), act("c", nil)})
	if !errors.Is(err, boom) || !slices.Equal(ran, []string{"a", "b"}) {
		t.Errorf("err %v, ran %v: want boom after a and b, c not run", err, ran)
	}
}
