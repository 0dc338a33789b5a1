package deployments

import (
	"encoding/json"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/multus-thick/multus-thick/fixtures"
)

// upstreamObject returns the one object of kind in UpstreamFile, with the
// lab's image override applied.
func upstreamObject(t *testing.T, kind string) *unstructured.Unstructured {
	t.Helper()
	objs, err := UpstreamObjects()
	return oneOfKind(t, UpstreamFile, objs, err, kind)
}

// The file holds what upstream's single manifest holds, under the names the
// lab and the scenarios look up (they are ours too, so a switch between the
// two manifests replaces objects instead of leaving a second copy).
func TestUpstreamObjects(t *testing.T) {
	objs, err := UpstreamObjects()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.GetKind()+" "+nsName(o))
	}
	want := []string{
		"CustomResourceDefinition network-attachment-definitions.k8s.cni.cncf.io",
		"ClusterRole multus", "ClusterRoleBinding multus", "ServiceAccount kube-system/multus",
		"ConfigMap kube-system/multus-daemon-config", "DaemonSet kube-system/kube-multus-ds",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("objects = %q, want %q", got, want)
	}
	ours, err := Objects()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, o := range ours {
		names[o.GetKind()+" "+nsName(o)] = true
	}
	for _, w := range want {
		if !names[w] {
			t.Errorf("%s is not in deployments/ too: switching manifests would leave it behind", w)
		}
	}
}

// TestUpstreamDaemonSetShape pins upstream's pod (multus-thick-behaviour.md
// §1): pod settings, containers, commands, env, resources and every mount
// with its host path and propagation.
func TestUpstreamDaemonSetShape(t *testing.T) {
	ds := upstreamObject(t, "DaemonSet")
	spec, _, _ := unstructured.NestedMap(ds.Object, "spec", "template", "spec")
	if spec["hostNetwork"] != true || spec["hostPID"] != true || spec["serviceAccountName"] != "multus" {
		t.Errorf("hostNetwork/hostPID/serviceAccountName = %v/%v/%v", spec["hostNetwork"], spec["hostPID"], spec["serviceAccountName"])
	}
	if g, _, _ := unstructured.NestedInt64(spec, "terminationGracePeriodSeconds"); g != 30 {
		t.Errorf("terminationGracePeriodSeconds = %d, want 30", g)
	}
	volumes := hostVolumes(t, spec)

	type mount struct{ host, propagation string }
	tests := []struct {
		field, name string
		command     []string
		mounts      map[string]mount // container path -> host side
		requests    map[string]any
		limits      map[string]any
	}{
		{field: "initContainers", name: "install-multus-binary",
			command:  []string{"/usr/src/multus-cni/bin/install_multus", "-d", "/host/opt/cni/bin", "-t", "thick"},
			mounts:   map[string]mount{"/host/opt/cni/bin": {"/opt/cni/bin", "Bidirectional"}},
			requests: map[string]any{"cpu": "10m", "memory": "15Mi"}},
		{field: "containers", name: "kube-multus",
			command: []string{"/usr/src/multus-cni/bin/multus-daemon"},
			mounts: map[string]mount{
				"/host/etc/cni/net.d":     {"/etc/cni/net.d", ""},
				"/opt/cni/bin":            {"/opt/cni/bin", ""},
				"/host/run":               {"/run", ""},
				"/var/lib/cni/multus":     {"/var/lib/cni/multus", ""},
				"/var/lib/kubelet":        {"/var/lib/kubelet", "HostToContainer"},
				"/run/k8s.cni.cncf.io":    {"/run/k8s.cni.cncf.io", ""},
				"/run/netns":              {"/run/netns", "HostToContainer"},
				"/hostroot":               {"/", "HostToContainer"},
				"/etc/cni/multus/net.d":   {"/etc/cni/multus/net.d", ""},
				"/etc/cni/net.d/multus.d": {"configmap:multus-daemon-config/daemon-config.json", ""},
			},
			requests: map[string]any{"cpu": "100m", "memory": "50Mi"},
			limits:   map[string]any{"cpu": "100m", "memory": "50Mi"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			list, _, _ := unstructured.NestedSlice(spec, tc.field)
			if len(list) != 1 {
				t.Fatalf("%d %s, want 1", len(list), tc.field)
			}
			c := list[0].(map[string]any)
			if c["name"] != tc.name {
				t.Errorf("name = %v, want %s", c["name"], tc.name)
			}
			if c["image"] != "localhost/multus-thick:lab" {
				t.Errorf("image = %v, want the lab's (kustomization override)", c["image"])
			}
			cmd, _, _ := unstructured.NestedStringSlice(c, "command")
			args, _, _ := unstructured.NestedStringSlice(c, "args")
			if !slices.Equal(cmd, tc.command) || len(args) != 0 {
				t.Errorf("command %q args %q, want %q and no args", cmd, args, tc.command)
			}
			if p, _, _ := unstructured.NestedBool(c, "securityContext", "privileged"); !p {
				t.Error("not privileged")
			}
			got := map[string]mount{}
			mounts, _, _ := unstructured.NestedSlice(c, "volumeMounts")
			for _, m := range mounts {
				mm := m.(map[string]any)
				p, _ := mm["mountPropagation"].(string)
				got[mm["mountPath"].(string)] = mount{volumes[mm["name"].(string)], p}
			}
			if !reflect.DeepEqual(got, tc.mounts) {
				t.Errorf("mounts:\n got %v\nwant %v", got, tc.mounts)
			}
			req, _, _ := unstructured.NestedMap(c, "resources", "requests")
			lim, _, _ := unstructured.NestedMap(c, "resources", "limits")
			if !reflect.DeepEqual(req, tc.requests) || (len(lim) > 0 || len(tc.limits) > 0) && !reflect.DeepEqual(lim, tc.limits) {
				t.Errorf("resources requests %v limits %v, want %v %v", req, lim, tc.requests, tc.limits)
			}
		})
	}
	cs, _, _ := unstructured.NestedSlice(spec, "containers")
	env, _, _ := unstructured.NestedSlice(cs[0].(map[string]any), "env")
	if len(env) != 1 {
		t.Fatalf("env = %v, want only MULTUS_NODE_NAME", env)
	}
	e := env[0].(map[string]any)
	if f, _, _ := unstructured.NestedString(e, "valueFrom", "fieldRef", "fieldPath"); e["name"] != "MULTUS_NODE_NAME" || f != "spec.nodeName" {
		t.Errorf("env = %v, want MULTUS_NODE_NAME from spec.nodeName", e)
	}
}

// hostVolumes maps each volume name to its host path, or to
// "configmap:<name>/<key>" for the daemon config.
func hostVolumes(t *testing.T, podSpec map[string]any) map[string]string {
	t.Helper()
	vols, _, _ := unstructured.NestedSlice(podSpec, "volumes")
	out := map[string]string{}
	for _, v := range vols {
		vm := v.(map[string]any)
		name := vm["name"].(string)
		if p, ok, _ := unstructured.NestedString(vm, "hostPath", "path"); ok {
			out[name] = path.Clean(p)
			continue
		}
		cm, _, _ := unstructured.NestedString(vm, "configMap", "name")
		items, _, _ := unstructured.NestedSlice(vm, "configMap", "items")
		var keys []string
		for _, it := range items {
			keys = append(keys, it.(map[string]any)["key"].(string))
		}
		out[name] = "configmap:" + cm + "/" + strings.Join(keys, ",")
	}
	return out
}

// Upstream's RBAC, rule for rule (§1).
func TestUpstreamRBAC(t *testing.T) {
	role := upstreamObject(t, "ClusterRole")
	got := ruleVerbs(role)
	want := map[string][]string{
		"k8s.cni.cncf.io/*":                     {"*"},
		"/pods":                                 {"get", "list", "update", "watch"},
		"/pods/status":                          {"get", "list", "update", "watch"},
		"resource.k8s.io/resourceclaims":        {"get", "list"},
		"resource.k8s.io/resourceclaims/status": {"get", "list"},
		"resource.k8s.io/resourceslices":        {"get", "list"},
		"/events":                               {"create", "patch", "update"},
		"events.k8s.io/events":                  {"create", "patch", "update"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rules:\n got %v\nwant %v", got, want)
	}
	binding := upstreamObject(t, "ClusterRoleBinding")
	subjects, _, _ := unstructured.NestedSlice(binding.Object, "subjects")
	ref, _, _ := unstructured.NestedString(binding.Object, "roleRef", "name")
	if len(subjects) != 1 || ref != "multus" {
		t.Fatalf("binding %v -> %s, want the multus ServiceAccount to ClusterRole multus", subjects, ref)
	}
	s := subjects[0].(map[string]any)
	if s["kind"] != "ServiceAccount" || s["name"] != "multus" || s["namespace"] != "kube-system" {
		t.Errorf("subject = %v", s)
	}
}

// The daemon config is upstream's reference config, the one the config
// package's fixture holds (and its tests parse).
func TestUpstreamDaemonConfig(t *testing.T) {
	cm := upstreamObject(t, "ConfigMap")
	raw, _, _ := unstructured.NestedString(cm.Object, "data", "daemon-config.json")
	var got, want map[string]any
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("daemon-config.json: %v", err)
	}
	if err := json.Unmarshal(fixtures.MustRead("cni/daemon-config-upstream.json"), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("daemon-config.json = %v, want upstream's %v", got, want)
	}
}

func nsName(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetName()
	}
	return o.GetNamespace() + "/" + o.GetName()
}
