package density

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/multus-thick/multus-thick/src/api"
)

// fakeLab is a cluster of fake nodes: the API (client-go's fake clientset),
// a kubelet that makes pods Ready with the network-status Multus would
// write, and node shells that hold 00-multus.conf and a daemon cgroup.
type fakeLab struct {
	mu      sync.Mutex
	conf    map[string]bool // 00-multus.conf in place
	aside   map[string]bool
	cpu     map[string]int64
	stuckIn Mode // pods of this mode never become Ready
	// runtime is the conf the runtime uses; stale keeps it on flannel
	// after the restore (a runtime that missed the reload).
	runtime  map[string]bool
	stale    bool
	cs       *fake.Clientset
	nodes    []string
	phaseFor map[string]Mode
}

func newFakeLab(t *testing.T, stuckIn Mode, stale bool) *fakeLab {
	l := &fakeLab{conf: map[string]bool{}, aside: map[string]bool{}, cpu: map[string]int64{}, runtime: map[string]bool{},
		stuckIn: stuckIn, stale: stale, nodes: []string{"n-a", "n-b"}}
	var objs []runtime.Object
	for i, n := range l.nodes {
		l.conf[n], l.runtime[n] = true, true
		objs = append(objs, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}},
			&corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("multus-%d", i), Namespace: "kube-system", Labels: map[string]string{"app": "multus"}},
				Spec:       corev1.PodSpec{NodeName: n},
				Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
					Name: "kube-multus", ContainerID: fmt.Sprintf("containerd://c%d", i),
					State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
				}}},
			})
	}
	l.cs = fake.NewClientset(objs...)
	// The fake tracker has no DeleteCollection: delete what matches.
	l.cs.PrependReactor("delete-collection", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		dc := a.(k8stesting.DeleteCollectionAction)
		list, err := l.cs.Tracker().List(schema.GroupVersionResource{Version: "v1", Resource: "pods"}, schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, dc.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		for _, p := range list.(*corev1.PodList).Items {
			if dc.GetListRestrictions().Labels.Matches(labelSet(p.Labels)) {
				_ = l.cs.Tracker().Delete(schema.GroupVersionResource{Version: "v1", Resource: "pods"}, p.Namespace, p.Name)
			}
		}
		return true, nil, nil
	})
	// The namespace controller: a default ServiceAccount per namespace.
	l.cs.PrependReactor("create", "namespaces", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ns := a.(k8stesting.CreateAction).GetObject().(*corev1.Namespace)
		_ = l.cs.Tracker().Add(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns.Name}})
		return false, nil, nil
	})
	return l
}

type labelSet map[string]string

func (s labelSet) Has(k string) bool              { _, ok := s[k]; return ok }
func (s labelSet) Get(k string) string            { return s[k] }
func (s labelSet) Lookup(k string) (string, bool) { v, ok := s[k]; return v, ok }

// kubelet makes every new pod Ready, unless its mode is stuck.
func (l *fakeLab) kubelet(ctx context.Context, t *testing.T) {
	w, err := l.cs.CoreV1().Pods("").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Error(err)
		return
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.ResultChan():
			if !ok {
				return
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if ev.Type != watch.Added || !isPod || p.Namespace == "kube-system" {
				continue
			}
			l.mu.Lock()
			multus := l.runtime["n-a"]
			l.mu.Unlock()
			mode := ModeFlannel
			switch {
			case multus && p.Annotations[api.NetworksAnnotation] != "":
				mode = ModeAttach
			case multus:
				mode = ModePlain
			}
			if mode == l.stuckIn {
				continue
			}
			p = p.DeepCopy()
			p.Spec.NodeName = l.nodes[int(p.Name[len(p.Name)-1])%2]
			now := metav1.Now()
			p.CreationTimestamp = metav1.NewTime(now.Add(-time.Second))
			if status := map[Mode]string{ModeAttach: `[{"name":"cbr0"},{"name":"x","interface":"net1"}]`, ModePlain: `[{"name":"cbr0"}]`}[mode]; status != "" {
				if p.Annotations == nil {
					p.Annotations = map[string]string{}
				}
				p.Annotations[api.NetworkStatusAnnotation] = status
			}
			p.Status.Conditions = []corev1.PodCondition{
				{Type: sandboxCondition, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			}
			if _, err := l.cs.CoreV1().Pods(p.Namespace).Update(ctx, p, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
				t.Errorf("kubelet: %v", err)
			}
		}
	}
}

func (l *fakeLab) exec(_ context.Context, node, script string) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case script == asideScript:
		if !l.conf[node] {
			return nil, fmt.Errorf("no conf on %s", node)
		}
		l.conf[node], l.aside[node], l.runtime[node] = false, true, false
	case script == restoreScript:
		if l.aside[node] {
			l.conf[node], l.aside[node] = true, false
			l.runtime[node] = !l.stale
		}
		if !l.conf[node] {
			return nil, fmt.Errorf("no conf on %s", node)
		}
	case strings.Contains(script, "crictl inspect"):
		return []byte("4:memory:/pod/c\n2:cpu,cpuacct:/pod/c\n"), nil
	case strings.Contains(script, "cpuacct.usage"):
		l.cpu[node] += 250_000_000
		return []byte(fmt.Sprintf("%d %d\n", l.cpu[node], 20<<20)), nil
	default:
		return nil, fmt.Errorf("unexpected script %q", script)
	}
	return nil, nil
}

func testConfig() Config {
	o := DefaultOptions()
	o.Pods, o.Rate, o.Deadline, o.PhaseTimeout = 3, 100, time.Minute, 2*time.Second
	return Config{Options: o, Image: "img", DaemonNamespace: "kube-system", DaemonSelector: "app=multus",
		DaemonContainer: "kube-multus", NADFixture: "nad/lab-macvlan-hostlocal.yaml"}
}

func TestRunLeavesTheLabAsItWas(t *testing.T) {
	tests := []struct {
		name       string
		stuckIn    Mode
		stale      bool
		wantErr    string
		wantPhases int
	}{
		{name: "every phase measured", wantPhases: 6},
		{name: "a flannel phase times out", stuckIn: ModeFlannel, wantErr: "phase flannel/rate", wantPhases: 5},
		{name: "the runtime misses the restore", stale: true, wantErr: "Multus is not on the pod path", wantPhases: 6},
		{name: "a Multus phase times out before the conf moved", stuckIn: ModePlain, wantErr: "phase multus/rate", wantPhases: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newFakeLab(t, tt.stuckIn, tt.stale)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go l.kubelet(ctx, t)
			env := Env{Core: l.cs, Dynamic: dynfake.NewSimpleDynamicClient(runtime.NewScheme()), Exec: l.exec,
				Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			rep, err := Run(ctx, testConfig(), env)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Run = %v, want an error containing %q", err, tt.wantErr)
			}
			if len(rep.Phases) != tt.wantPhases {
				t.Fatalf("%d phases reported, want %d", len(rep.Phases), tt.wantPhases)
			}
			for _, n := range l.nodes {
				if !l.conf[n] || l.aside[n] {
					t.Errorf("node %s: 00-multus.conf in place %v, aside %v", n, l.conf[n], l.aside[n])
				}
			}
			nss, _ := l.cs.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
			if len(nss.Items) != 0 {
				t.Errorf("namespaces left: %v", nss.Items)
			}
			pods, _ := l.cs.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{LabelSelector: partOfLabel})
			if len(pods.Items) != 0 {
				t.Errorf("%d bench pods left", len(pods.Items))
			}
			if tt.wantErr == "" {
				p := rep.Phases[0]
				if p.Latency.Ready.N != 3 || p.Latency.ReadyCond.N != 3 || p.Latency.ReadyCond.Max > 2000 || len(p.Nodes) != 2 ||
					p.Nodes[0].Pods+p.Nodes[1].Pods != 3 || p.Nodes[0].DaemonCPUSeconds != 0.25 || p.Nodes[0].DaemonPeakMiB != 20 {
					t.Errorf("first phase = %+v", p)
				}
			}
		})
	}
}
