package rollout

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDaemonSet(t *testing.T) {
	ds := func(gen, observed int64, desired, updated, ready, avail int32) *appsv1.DaemonSet {
		return &appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Generation: gen},
			Status: appsv1.DaemonSetStatus{ObservedGeneration: observed, DesiredNumberScheduled: desired,
				UpdatedNumberScheduled: updated, NumberReady: ready, NumberAvailable: avail},
		}
	}
	for _, tc := range []struct {
		name     string
		ds       *appsv1.DaemonSet
		want     bool
		progress string
	}{
		{"rolled out", ds(2, 2, 3, 3, 3, 3), true, "desired 3, updated 3, ready 3, available 3"},
		{"new generation not observed", ds(3, 2, 3, 3, 3, 3), false, "generation 3 not observed (at 2)"},
		{"one pod still old", ds(2, 2, 3, 2, 3, 3), false, "updated 2"},
		{"one pod not ready", ds(2, 2, 3, 3, 2, 2), false, "ready 2, available 2"},
		{"one pod ready, not yet available", ds(2, 2, 3, 3, 3, 2), false, "available 2"},
		{"scheduled nowhere yet", ds(1, 1, 0, 0, 0, 0), false, "desired 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done, progress := DaemonSet(tc.ds)
			if done != tc.want || !strings.Contains(progress, tc.progress) {
				t.Fatalf("DaemonSet = %v, %q; want %v, with %q", done, progress, tc.want, tc.progress)
			}
		})
	}
}
