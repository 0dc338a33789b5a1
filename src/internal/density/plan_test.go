package density

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Options)
		wantErr string
	}{
		{name: "defaults", mutate: func(*Options) {}},
		{name: "above the cap", mutate: func(o *Options) { o.Pods = 151 }, wantErr: "above the cap of 150"},
		{name: "a cap above the lab's room", mutate: func(o *Options) { o.MaxPods, o.Pods = 1000, 500 }, wantErr: "max pods 1000"},
		{name: "no pods", mutate: func(o *Options) { o.Pods = 0 }, wantErr: "want at least 1"},
		{name: "zero rate", mutate: func(o *Options) { o.Rate = 0 }, wantErr: "rate 0"},
		{name: "unbounded deadline", mutate: func(o *Options) { o.Deadline = time.Hour }, wantErr: "deadline 1h0m0s"},
		{name: "unknown mode", mutate: func(o *Options) { o.Modes = []Mode{"calico"} }, wantErr: `mode "calico"`},
		{name: "unknown pattern", mutate: func(o *Options) { o.Patterns = []Pattern{"ramp"} }, wantErr: `pattern "ramp"`},
		{name: "nothing to do", mutate: func(o *Options) { o.Modes = nil }, wantErr: "nothing to measure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			tt.mutate(&o)
			err := o.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestPlanPutsFlannelLast(t *testing.T) {
	o := DefaultOptions()
	o.Modes = []Mode{ModeFlannel, ModeAttach, ModePlain}
	var got []string
	for _, p := range o.Plan() {
		got = append(got, p.String())
	}
	want := []string{"multus+macvlan/rate", "multus+macvlan/burst", "multus/rate", "multus/burst", "flannel/rate", "flannel/burst"}
	if !slices.Equal(got, want) {
		t.Fatalf("Plan = %v, want %v", got, want)
	}
}

func TestCreateOffsets(t *testing.T) {
	if got := createOffsets(3, PatternRate, 10); !slices.Equal(got, []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond}) {
		t.Errorf("rate offsets = %v", got)
	}
	if got := createOffsets(3, PatternBurst, 10); !slices.Equal(got, []time.Duration{0, 0, 0}) {
		t.Errorf("burst offsets = %v", got)
	}
}

// fakeNodes is an Exec over in-memory node file systems holding only
// whether 00-multus.conf is in place or aside.
type fakeNodes struct {
	conf, aside map[string]bool
	failOn      string // node whose exec fails
	calls       []string
}

func (f *fakeNodes) exec(_ context.Context, node, script string) ([]byte, error) {
	f.calls = append(f.calls, node)
	if node == f.failOn {
		return nil, errors.New("exec failed")
	}
	switch script {
	case asideScript:
		if !f.conf[node] {
			return nil, errors.New("no conf")
		}
		f.conf[node], f.aside[node] = false, true
	case restoreScript:
		if f.aside[node] {
			if !f.conf[node] {
				f.conf[node] = true
			}
			f.aside[node] = false
		}
		if !f.conf[node] {
			return nil, errors.New("no conf")
		}
	default:
		return nil, errors.New("unexpected script " + script)
	}
	return nil, nil
}

func TestConfAsideRestoresEveryNode(t *testing.T) {
	nodes := []string{"a", "b", "c"}
	tests := []struct {
		name      string
		failOn    string
		wantErr   bool
		wantAside []string // nodes aside after confAside returned
	}{
		{name: "all moved", wantAside: []string{"a", "b", "c"}},
		{name: "a failure midway restores the nodes already moved", failOn: "c", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeNodes{conf: map[string]bool{"a": true, "b": true, "c": true}, aside: map[string]bool{}, failOn: tt.failOn}
			restore, err := confAside(context.Background(), f.exec, nodes)
			if (err != nil) != tt.wantErr {
				t.Fatalf("confAside err = %v, wantErr %v", err, tt.wantErr)
			}
			var aside []string
			for _, n := range nodes {
				if f.aside[n] {
					aside = append(aside, n)
				}
			}
			if !slices.Equal(aside, tt.wantAside) {
				t.Fatalf("aside after confAside = %v, want %v", aside, tt.wantAside)
			}
			if err != nil {
				return
			}
			if err := restore(context.Background()); err != nil {
				t.Fatalf("restore: %v", err)
			}
			for _, n := range nodes {
				if !f.conf[n] || f.aside[n] {
					t.Errorf("node %s after restore: conf %v aside %v", n, f.conf[n], f.aside[n])
				}
			}
		})
	}
}

func TestRestoreConfKeepsGoingAfterAFailure(t *testing.T) {
	f := &fakeNodes{conf: map[string]bool{"a": false, "b": true}, aside: map[string]bool{"a": true}, failOn: "x"}
	err := restoreConf(context.Background(), f.exec, []string{"x", "a", "b"})
	if err == nil || !strings.Contains(err.Error(), "on x") {
		t.Fatalf("restoreConf = %v, want the failure on x named", err)
	}
	if !f.conf["a"] || f.aside["a"] {
		t.Fatalf("node a not restored after x failed: %+v", f)
	}
}
