package kube

import (
	"bytes"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/multus-thick/multus-thick/src/api"
)

func TestNADRow(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		want         NADRow
	}{
		{"single plugin", `{"type":"macvlan","master":"eth0","ipam":{"type":"host-local"}}`,
			NADRow{Type: "macvlan", Master: "eth0", IPAM: "host-local"}},
		{"plugin list", `{"plugins":[{"type":"macvlan","master":"eth0","ipam":{"type":"static"}},{"type":"tuning"}]}`,
			NADRow{Type: "macvlan,tuning", Master: "eth0", IPAM: "static"}},
		{"empty spec", "", NADRow{Type: "(empty: confDir file)"}},
		{"broken", "{not json", NADRow{Type: "(invalid JSON)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := nadRow("", "", tc.config)
			if got != tc.want {
				t.Fatalf("nadRow = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func pod(ns, name string, ann map[string]string) corev1.Pod {
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann},
		Spec:       corev1.PodSpec{NodeName: "mt-lab-worker"},
	}
}

func TestAttachments(t *testing.T) {
	const twoNets = `[{"name":"cbr0","interface":"eth0","ips":["10.244.1.5"],"mac":"aa:bb","default":true},
		{"name":"default/lab-macvlan-static","interface":"net1","ips":["10.201.0.5"],"mac":"cc:dd"}]`
	pods := []corev1.Pod{
		pod("default", "b-two-nets", map[string]string{"k8s.v1.cni.cncf.io/network-status": twoNets, api.NetworksAnnotation: "lab-macvlan-static"}),
		pod("kube-system", "coredns", map[string]string{"k8s.v1.cni.cncf.io/network-status": `[{"name":"cbr0","interface":"eth0","default":true}]`}),
		pod("default", "a-pending", map[string]string{api.NetworksAnnotation: "lab-macvlan-static"}),
		pod("default", "c-broken", map[string]string{"k8s.v1.cni.cncf.io/network-status": "{"}),
		pod("default", "d-plain", nil),
	}
	rows, problems := attachments(pods)
	if len(rows) != 2 || rows[0].Interface != "eth0" || rows[1].Interface != "net1" || rows[1].IPs != "10.201.0.5" || !rows[0].Default {
		t.Errorf("rows = %+v, want eth0 (default) and net1 of b-two-nets only", rows)
	}
	if len(problems) != 2 || !strings.Contains(problems[0], "a-pending") || !strings.Contains(problems[1], "c-broken") {
		t.Errorf("problems = %q, want a-pending (no status) and c-broken (bad JSON)", problems)
	}
}

func TestRenderHasEverySection(t *testing.T) {
	r := Report{
		Guard:       "0 packets rejected",
		Nodes:       []NodeRow{{Name: "mt-lab-control-plane", Status: "Ready", Version: "v1.37.2", InternalIP: "172.30.0.2"}},
		Daemons:     []PodRow{{Name: "kube-multus-ds-x", Node: "mt-lab-worker", Phase: "Running", Ready: "1/1"}},
		NADs:        []NADRow{{Namespace: "default", Name: "lab-macvlan-static", Type: "macvlan", Master: "eth0", IPAM: "static"}},
		Attachments: []AttachRow{{Namespace: "default", Pod: "p", Node: "n", Network: "default/lab-macvlan-static", Interface: "net1", IPs: "10.201.0.5"}},
	}
	var b bytes.Buffer
	if err := r.Render(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"EGRESS GUARD", "0 packets rejected", "NODES (1)", "mt-lab-control-plane", "MULTUS DAEMON PODS (1)",
		"NETWORK ATTACHMENT DEFINITIONS (1)", "lab-macvlan-static", "POD ATTACHMENTS (1)", "10.201.0.5"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "PROBLEMS") {
		t.Errorf("output has a PROBLEMS section without problems:\n%s", b.String())
	}
}

func TestSetTemplateAnnotationKeepsOthers(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"kind": "DaemonSet",
		"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
			"annotations": map[string]any{"keep": "me"}}}},
	}}
	if err := SetTemplateAnnotation(obj, "lab/id", "abc"); err != nil {
		t.Fatal(err)
	}
	got, _, _ := unstructured.NestedStringMap(obj.Object, "spec", "template", "metadata", "annotations")
	if got["keep"] != "me" || got["lab/id"] != "abc" {
		t.Fatalf("annotations = %v", got)
	}
}
