// Package rollout is the one home of the lab's "DaemonSet rolled out" rule, for the lab
// command and the scenarios alike (so it is not under lab/internal, which the scenarios
// may not import).
package rollout

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
)

// DaemonSet reports whether ds is rolled out, the test `kubectl rollout status` makes: the
// controller has observed the latest spec, and every pod it schedules (at least one) is
// updated, ready and available. progress says where the rollout stands, for a wait's
// error message. (e2e-framework's DaemonSetReady does not look at observedGeneration, so
// it passes before a new spec is even seen.)
func DaemonSet(ds *appsv1.DaemonSet) (done bool, progress string) {
	s := ds.Status
	if s.ObservedGeneration < ds.Generation {
		return false, fmt.Sprintf("generation %d not observed (at %d)", ds.Generation, s.ObservedGeneration)
	}
	done = s.DesiredNumberScheduled > 0 && s.UpdatedNumberScheduled == s.DesiredNumberScheduled &&
		s.NumberReady == s.DesiredNumberScheduled && s.NumberAvailable == s.DesiredNumberScheduled
	return done, fmt.Sprintf("desired %d, updated %d, ready %d, available %d", s.DesiredNumberScheduled,
		s.UpdatedNumberScheduled, s.NumberReady, s.NumberAvailable)
}
