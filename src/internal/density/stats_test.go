package density

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multus-thick/multus-thick/src/api"
)

func podWith(name string, created time.Time, sandboxAfter, readyAfter time.Duration) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)}}
	if sandboxAfter >= 0 {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: sandboxCondition, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(created.Add(sandboxAfter))})
	}
	if readyAfter >= 0 {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(created.Add(readyAfter))})
	}
	return p
}

func TestLatencies(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	pods := []corev1.Pod{
		podWith("a", t0, time.Second, 2*time.Second),
		podWith("b", t0, 2*time.Second, 4*time.Second),
	}
	obs := map[string]observation{
		"a": {created: t0, sandbox: t0.Add(800 * time.Millisecond), ready: t0.Add(1500 * time.Millisecond)},
		"b": {created: t0.Add(time.Second), sandbox: t0.Add(2 * time.Second), ready: t0.Add(4 * time.Second)},
	}
	l, err := latencies(pods, obs)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name  string
		got   float64
		want  float64
		gotN  int
		wantN int
	}{
		{"ready observed p50", l.Ready.P50, 2250, l.Ready.N, 2},
		{"ready observed max", l.Ready.Max, 3000, l.Ready.N, 2},
		{"sandbox observed p50", l.Sandbox.P50, 900, l.Sandbox.N, 2},
		{"ready from conditions p50", l.ReadyCond.P50, 3000, l.ReadyCond.N, 2},
		{"sandbox from conditions max", l.SandboxCond.Max, 2000, l.SandboxCond.N, 2},
	}
	for _, c := range checks {
		if c.got != c.want || c.gotN != c.wantN {
			t.Errorf("%s = %v (n %d), want %v (n %d)", c.name, c.got, c.gotN, c.want, c.wantN)
		}
	}
}

func TestLatenciesNamesPodsNotReady(t *testing.T) {
	t0 := time.Now()
	pods := []corev1.Pod{podWith("ok", t0, time.Second, time.Second), podWith("stuck", t0, -1, -1)}
	_, err := latencies(pods, nil)
	if err == nil || !strings.Contains(err.Error(), "stuck") || !strings.Contains(err.Error(), "1 of 2") {
		t.Fatalf("latencies = %v, want an error naming the pod not Ready", err)
	}
}

func TestObserverKeepsFirstSighting(t *testing.T) {
	t0 := time.Now()
	now := t0
	o := newObserver(func() time.Time { return now })
	o.created("a", t0)
	p := podWith("a", t0, 0, -1)
	now = t0.Add(time.Second)
	o.seen(&p) // sandbox true, not ready
	now = t0.Add(2 * time.Second)
	p = podWith("a", t0, 0, 0)
	o.seen(&p) // ready now
	now = t0.Add(3 * time.Second)
	o.seen(&p) // a later update changes nothing
	got := o.snapshot()["a"]
	if got.sandbox != t0.Add(time.Second) || got.ready != t0.Add(2*time.Second) {
		t.Fatalf("observation = %+v", got)
	}
	if o.readyCount() != 1 {
		t.Fatalf("readyCount = %d", o.readyCount())
	}
}

func TestCheckAttachments(t *testing.T) {
	withStatus := func(s string) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}
		if s != "" {
			p.Annotations = map[string]string{api.NetworkStatusAnnotation: s}
		}
		return p
	}
	two := `[{"name":"cbr0"},{"name":"ns/macvlan","interface":"net1"}]`
	one := `[{"name":"cbr0"}]`
	tests := []struct {
		mode    Mode
		status  string
		wantErr bool
	}{
		{ModeAttach, two, false},
		{ModeAttach, one, true},
		{ModePlain, one, false},
		{ModePlain, "", true},
		{ModeFlannel, "", false},
		{ModeFlannel, one, true}, // Multus still on the path: the conf was not moved aside
		{ModePlain, "{", true},
	}
	for _, tt := range tests {
		err := checkAttachments(tt.mode, []corev1.Pod{withStatus(tt.status)})
		if (err != nil) != tt.wantErr {
			t.Errorf("checkAttachments(%s, %q) = %v, wantErr %v", tt.mode, tt.status, err, tt.wantErr)
		}
	}
}
