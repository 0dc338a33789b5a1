package bench

import (
	"encoding/json"
	"testing"
)

func TestDaemonConfig(t *testing.T) {
	d := subjectDirs{socketDir: "/tmp/mtx", cniConfDir: "/w/net.d", cniDir: "/w/cni", metricsPort: 9100}
	tests := []struct {
		name string
		s    Subject
		in   *inCluster
		want map[string]any // key -> value; nil value: key absent
	}{
		{
			name: "harness keys",
			want: map[string]any{"kubeconfig": "/w/kubeconfig", "metricsPort": 9100, "enablePprof": true, "socketDir": "/tmp/mtx"},
		},
		{
			name: "the subject's keys are set last",
			s: Subject{DaemonConfig: map[string]json.RawMessage{
				"addedInterfaceEvents": json.RawMessage(`"perPod"`),
				"logLevel":             json.RawMessage(`"debug"`),
			}},
			want: map[string]any{"addedInterfaceEvents": json.RawMessage(`"perPod"`), "logLevel": json.RawMessage(`"debug"`)},
		},
		{
			name: "in-cluster credentials replace the kubeconfig",
			in:   &inCluster{},
			want: map[string]any{"kubeconfig": nil},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := d
			d.inCluster = tc.in
			got := daemonConfig(tc.s, d, "/auto", "/plugins", "/w/kubeconfig", "error")
			for k, want := range tc.want {
				v, ok := got[k]
				if want == nil {
					if ok {
						t.Errorf("%s = %v, want no such key", k, v)
					}
					continue
				}
				gj, _ := json.Marshal(v)
				wj, _ := json.Marshal(want)
				if string(gj) != string(wj) {
					t.Errorf("%s = %s, want %s", k, gj, wj)
				}
			}
		})
	}
}

func TestNodeFor(t *testing.T) {
	h := &harness{cfg: Config{NodeName: "mt-bench-node", Subjects: []Subject{{Name: "a"}, {Name: "b"}, {Name: "c"}}}}
	want := []string{"mt-bench-node", "mt-bench-node-1", "mt-bench-node-2"}
	seen := map[string]bool{}
	for k, w := range want {
		if got := h.nodeFor(k); got != w {
			t.Errorf("nodeFor(%d) = %q, want %q", k, got, w)
		}
		seen[h.nodeFor(k)] = true
	}
	if len(seen) != len(want) {
		t.Errorf("subjects share a node: %v", seen)
	}
}
