package density

import (
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/multus-thick/multus-thick/src/internal/bench"
)

// sandboxCondition is the kubelet's condition for "sandbox created and
// networked" (KEP-3085); its transition is when CNI ADD returned.
const sandboxCondition corev1.PodConditionType = "PodReadyToStartContainers"

// observation is what the harness saw of one pod: when it sent the create
// and when a watch first showed each condition true. Wall-clock times on
// the host, so the figures have millisecond resolution, unlike the
// conditions' own timestamps (whole seconds).
type observation struct {
	created time.Time
	sandbox time.Time
	ready   time.Time
}

// observer records observations; the watch and the creators share it.
type observer struct {
	mu   sync.Mutex
	pods map[string]*observation
	now  func() time.Time
}

func newObserver(now func() time.Time) *observer {
	return &observer{pods: map[string]*observation{}, now: now}
}

func (o *observer) get(name string) *observation {
	ob := o.pods[name]
	if ob == nil {
		ob = &observation{}
		o.pods[name] = ob
	}
	return ob
}

// created marks the moment the create request for name is sent.
func (o *observer) created(name string, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.get(name).created = at
}

// seen records the first time pod shows each condition true.
func (o *observer) seen(pod *corev1.Pod) {
	now := o.now()
	o.mu.Lock()
	defer o.mu.Unlock()
	ob := o.get(pod.Name)
	if ob.sandbox.IsZero() && conditionTrue(pod, sandboxCondition) {
		ob.sandbox = now
	}
	if ob.ready.IsZero() && conditionTrue(pod, corev1.PodReady) {
		ob.ready = now
	}
}

// readyCount is how many pods have been seen Ready.
func (o *observer) readyCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, ob := range o.pods {
		if !ob.ready.IsZero() {
			n++
		}
	}
	return n
}

func (o *observer) snapshot() map[string]observation {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]observation, len(o.pods))
	for k, v := range o.pods {
		out[k] = *v
	}
	return out
}

func conditionTrue(pod *corev1.Pod, t corev1.PodConditionType) bool {
	c := condition(pod, t)
	return c != nil && c.Status == corev1.ConditionTrue
}

func condition(pod *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == t {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// Latency is one phase's latency figures, in milliseconds.
type Latency struct {
	// Ready and Sandbox: from the create request to the first watch event
	// with the condition true (ms resolution).
	Ready   bench.Dist `json:"ready_observed"`
	Sandbox bench.Dist `json:"sandbox_observed"`
	// ReadyCond and SandboxCond: creationTimestamp to the condition's
	// lastTransitionTime, as kube-burner computes them (whole seconds).
	ReadyCond   bench.Dist `json:"ready_conditions"`
	SandboxCond bench.Dist `json:"sandbox_conditions"`
}

// latencies computes a phase's figures from the final pod objects and the
// observations. A pod without a true Ready condition is an error naming it.
func latencies(pods []corev1.Pod, obs map[string]observation) (Latency, error) {
	var ready, sandbox, readyC, sandboxC []float64
	var missing []string
	for i := range pods {
		p := &pods[i]
		rc, sc := condition(p, corev1.PodReady), condition(p, sandboxCondition)
		if rc == nil || rc.Status != corev1.ConditionTrue {
			missing = append(missing, p.Name)
			continue
		}
		created := p.CreationTimestamp.Time
		if !created.IsZero() {
			readyC = append(readyC, ms(rc.LastTransitionTime.Sub(created)))
		}
		if sc != nil && sc.Status == corev1.ConditionTrue && !created.IsZero() {
			sandboxC = append(sandboxC, ms(sc.LastTransitionTime.Sub(created)))
		}
		ob, ok := obs[p.Name]
		if !ok || ob.created.IsZero() {
			continue
		}
		if !ob.ready.IsZero() {
			ready = append(ready, ms(ob.ready.Sub(ob.created)))
		}
		if !ob.sandbox.IsZero() {
			sandbox = append(sandbox, ms(ob.sandbox.Sub(ob.created)))
		}
	}
	l := Latency{
		Ready: bench.SummarizeMS(ready), Sandbox: bench.SummarizeMS(sandbox),
		ReadyCond: bench.SummarizeMS(readyC), SandboxCond: bench.SummarizeMS(sandboxC),
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return l, fmt.Errorf("%d of %d pods not Ready: %v", len(missing), len(pods), missing[:min(len(missing), 5)])
	}
	return l, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
