package deployments

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestBundleInSync(t *testing.T) {
	want, err := Bundle()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Committed()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("deployments/%s is out of date with the per-kind files: run `make lab-manifests` and commit it", BundleFile)
	}
}

func TestBundleDecodesToResourceObjects(t *testing.T) {
	data, err := Committed()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	res, err := Resources()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res {
		o, err := Decode(f.Data)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		want = append(want, kinds(o)...)
	}
	if got := kinds(objs); !slices.Equal(got, want) {
		t.Fatalf("bundle objects = %v, want %v", got, want)
	}
}

// One kind per file; rbac.yaml is the one concern that needs two (a role is
// useless without its binding).
func TestOneKindPerFile(t *testing.T) {
	res, err := Resources()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res {
		objs, err := Decode(f.Data)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		got := kinds(objs)
		want := []string{objs[0].GetKind()}
		if f.Name == "rbac.yaml" {
			want = []string{"ClusterRole", "ClusterRoleBinding"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s holds %v, want %v", f.Name, got, want)
		}
	}
}

func TestObjectsUseLabImageAndNeverPull(t *testing.T) {
	k, err := ReadKustomization()
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Images) != 1 {
		t.Fatalf("kustomization images = %+v, want exactly the lab override", k.Images)
	}
	labRef := k.Images[0].NewName + ":" + k.Images[0].NewTag
	objs, err := Objects()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range containers(t, objs) {
		n++
		if c["image"] != labRef {
			t.Errorf("container %v image = %v, want %s", c["name"], c["image"], labRef)
		}
		if p := c["imagePullPolicy"]; p != "IfNotPresent" && p != "Never" {
			t.Errorf("container %v imagePullPolicy = %v: the lab is offline, images are preloaded", c["name"], p)
		}
	}
	if n != 2 {
		t.Fatalf("found %d containers, want 2 (installer + daemon)", n)
	}
}

func TestDaemonConfig(t *testing.T) {
	obj := only(t, "ConfigMap")
	raw, _, _ := unstructured.NestedString(obj.Object, "data", "daemon-config.json")
	var cfg map[string]any
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatalf("daemon-config.json: %v", err)
	}
	want := map[string]any{
		"chrootDir":           "/hostroot",
		"cniVersion":          "0.3.1",
		"logLevel":            "verbose",
		"logToStderr":         true,
		"cniConfigDir":        "/host/etc/cni/net.d",
		"multusAutoconfigDir": "/host/etc/cni/net.d",
		"multusConfigFile":    "auto",
		"socketDir":           "/host/run/multus/",
		"cniDir":              "/var/lib/cni/multus",
		// flannel's subnet.env as the daemon sees it through /hostroot.
		"readinessindicatorfile": "/hostroot/run/flannel/subnet.env",
	}
	for k, v := range want {
		if cfg[k] != v {
			t.Errorf("daemon-config %s = %v, want %v", k, cfg[k], v)
		}
	}
}

// Every host directory the daemon mounts is deliberate (anti-pattern 16:
// privilege sprawl). Adding one means adding it here with a reason.
func TestDaemonSetHostPaths(t *testing.T) {
	allowed := map[string]string{
		"/":                               "chroot for delegates",
		"/etc/cni/net.d":                  "auto mode reads the primary config, writes 00-multus.conf",
		"/opt/cni/bin":                    "shim install; delegate lookup at the same path",
		"/run/multus":                     "the daemon's socket",
		"/var/lib/cni/multus":             "scratch cache for DEL",
		"/run/netns":                      "the daemon opens pod netns itself",
		"/var/lib/kubelet/pod-resources":  "device IDs",
		"/var/lib/kubelet/device-plugins": "device IDs (checkpoint fallback)",
		"/run/k8s.cni.cncf.io":            "device-info files shared with device plugins, DRA drivers and delegates",
		"/etc/cni/multus/net.d":           "confDir for NADs with an empty spec",
	}
	ds := only(t, "DaemonSet")
	vols, _, _ := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", "volumes")
	seen := map[string]bool{}
	for _, v := range vols {
		p, ok, _ := unstructured.NestedString(v.(map[string]any), "hostPath", "path")
		if !ok {
			continue
		}
		seen[p] = true
		if _, ok := allowed[p]; !ok {
			t.Errorf("hostPath %s is not in the reviewed list", p)
		}
	}
	for p, why := range allowed {
		if !seen[p] {
			t.Errorf("hostPath %s (%s) is missing", p, why)
		}
	}
	spec, _, _ := unstructured.NestedMap(ds.Object, "spec", "template", "spec")
	if spec["hostNetwork"] != true || spec["hostPID"] != true {
		t.Errorf("hostNetwork/hostPID = %v/%v, want true/true", spec["hostNetwork"], spec["hostPID"])
	}
	if g, _, _ := unstructured.NestedInt64(spec, "terminationGracePeriodSeconds"); g != 30 {
		t.Errorf("terminationGracePeriodSeconds = %d, want 30", g)
	}
}

// The daemon's role is least privilege: no wildcard, no write to pods or NADs.
func TestRBACLeastPrivilege(t *testing.T) {
	role := only(t, "ClusterRole")
	got := ruleVerbs(role)
	want := map[string][]string{
		"/pods":        {"get", "list", "watch"},
		"/pods/status": {"patch", "update"},
		"k8s.cni.cncf.io/network-attachment-definitions": {"get", "list", "watch"},
		"/events":                        {"create", "patch"},
		"resource.k8s.io/resourceclaims": {"get"},
		"resource.k8s.io/resourceslices": {"list"},
	}
	if len(got) != len(want) {
		t.Errorf("role covers %v, want %v", got, want)
	}
	for k, v := range want {
		g := slices.Clone(got[k])
		slices.Sort(g)
		w := slices.Clone(v)
		slices.Sort(w)
		if !slices.Equal(g, w) {
			t.Errorf("%s verbs = %v, want %v", k, got[k], v)
		}
	}
}

func TestParseKustomizationRejectsUnsupportedFields(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"resources and images", "resources: [a.yaml]\nimages: [{name: x, newTag: y}]\n", true},
		{"patches", "resources: [a.yaml]\npatches: [{path: p.yaml}]\n", false},
		{"namespace", "resources: [a.yaml]\nnamespace: other\n", false},
		{"no resources", "images: []\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseKustomization([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestImageOverrideRef(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    ImageOverride
		in   string
		want string
	}{
		{"name and tag", ImageOverride{Name: "a/b", NewName: "c/d", NewTag: "t"}, "a/b:1", "c/d:t"},
		{"tag only", ImageOverride{Name: "a/b", NewTag: "t"}, "a/b", "a/b:t"},
		{"name only keeps tag", ImageOverride{Name: "a/b", NewName: "c/d"}, "a/b:1", "c/d:1"},
		{"registry port is not a tag", ImageOverride{Name: "r:5000/b", NewTag: "t"}, "r:5000/b", "r:5000/b:t"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.o.Ref(tc.in); got != tc.want {
				t.Fatalf("Ref(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestDecodeSkipsCommentOnlyDocuments(t *testing.T) {
	objs, err := Decode([]byte("# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].GetName() != "a" {
		t.Fatalf("objects = %v, want the one ConfigMap", kinds(objs))
	}
}

func kinds(objs []*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.GetKind())
	}
	return out
}

func only(t *testing.T, kind string) *unstructured.Unstructured {
	t.Helper()
	objs, err := Objects()
	return oneOfKind(t, "deployments/", objs, err, kind)
}

// oneOfKind returns the one object of kind among objs (loaded from where,
// with err from loading them), failing the test unless there is exactly one.
func oneOfKind(t *testing.T, where string, objs []*unstructured.Unstructured, loadErr error, kind string) *unstructured.Unstructured {
	t.Helper()
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s holds %d %s objects, want 1", where, len(found), kind)
	}
	return found[0]
}

func containers(t *testing.T, objs []*unstructured.Unstructured) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, o := range objs {
		for _, f := range []string{"containers", "initContainers"} {
			list, _, err := unstructured.NestedSlice(o.Object, "spec", "template", "spec", f)
			if err != nil {
				t.Fatalf("%s: %v", o.GetKind(), err)
			}
			for _, c := range list {
				out = append(out, c.(map[string]any))
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no containers found")
	}
	return out
}

// The probes exec the shim's probe mode against the socket directory the
// daemon listens in; a socketDir change that forgets the probes would make
// every daemon pod unready.
func TestProbesUseShimAndSocketDir(t *testing.T) {
	cm := only(t, "ConfigMap")
	raw, _, _ := unstructured.NestedString(cm.Object, "data", "daemon-config.json")
	var cfg struct {
		SocketDir string `json:"socketDir"`
	}
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	ds := only(t, "DaemonSet")
	cs, _, _ := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", "containers")
	daemon := cs[0].(map[string]any)
	for probe, endpoint := range map[string]string{"startupProbe": "healthz", "livenessProbe": "healthz", "readinessProbe": "readyz"} {
		cmd, _, _ := unstructured.NestedStringSlice(daemon, probe, "exec", "command")
		want := []string{"/usr/src/multus-cni/bin/multus-shim", "-probe", endpoint, "-socket-dir", cfg.SocketDir}
		if !slices.Equal(cmd, want) {
			t.Errorf("%s = %q, want %q", probe, cmd, want)
		}
	}
}

// The init container runs upstream's installer command, so passthru lands
// on the node next to the shim (an auxiliaryCNIChainName chain needs it),
// in the directory the daemon finds delegates in.
func TestInitContainerInstallsShimAndPassthru(t *testing.T) {
	ds := only(t, "DaemonSet")
	inits, _, _ := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", "initContainers")
	if len(inits) != 1 {
		t.Fatalf("%d init containers, want 1", len(inits))
	}
	c := inits[0].(map[string]any)
	cmd, _, _ := unstructured.NestedStringSlice(c, "command")
	want := []string{"/usr/src/multus-cni/bin/install_multus", "-d", "/host/opt/cni/bin", "-t", "thick"}
	if !slices.Equal(cmd, want) {
		t.Errorf("init command = %q, want %q", cmd, want)
	}
	mounts, _, _ := unstructured.NestedSlice(c, "volumeMounts")
	var mounted bool
	for _, m := range mounts {
		mm := m.(map[string]any)
		mounted = mounted || (mm["mountPath"] == "/host/opt/cni/bin" && mm["name"] == hostPathVolume(t, ds, "/opt/cni/bin"))
	}
	if !mounted {
		t.Errorf("init container does not mount the node's /opt/cni/bin at /host/opt/cni/bin: %v", mounts)
	}
}

// hostPathVolume returns the name of ds's volume for a host path.
func hostPathVolume(t *testing.T, ds *unstructured.Unstructured, path string) string {
	t.Helper()
	vols, _, _ := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", "volumes")
	for _, v := range vols {
		vm := v.(map[string]any)
		if p, _, _ := unstructured.NestedString(vm, "hostPath", "path"); p == path {
			return vm["name"].(string)
		}
	}
	t.Fatalf("no hostPath volume for %s", path)
	return ""
}

// The rolling update surges: the next daemon serves before the old one
// stops, so no DEL from a probe-once (upstream) shim finds no daemon.
func TestDaemonSetUpdateSurges(t *testing.T) {
	ds := only(t, "DaemonSet")
	ru, _, _ := unstructured.NestedMap(ds.Object, "spec", "updateStrategy", "rollingUpdate")
	if fmt.Sprint(ru["maxSurge"]) != "1" || fmt.Sprint(ru["maxUnavailable"]) != "0" {
		t.Errorf("rollingUpdate = %v, want maxSurge 1 and maxUnavailable 0", ru)
	}
}

// ruleVerbs flattens a ClusterRole's rules to "group/resource" -> verbs.
func ruleVerbs(role *unstructured.Unstructured) map[string][]string {
	rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
	got := map[string][]string{}
	for _, r := range rules {
		rm := r.(map[string]any)
		groups, _, _ := unstructured.NestedStringSlice(rm, "apiGroups")
		res, _, _ := unstructured.NestedStringSlice(rm, "resources")
		verbs, _, _ := unstructured.NestedStringSlice(rm, "verbs")
		for _, g := range groups {
			for _, r := range res {
				got[g+"/"+r] = append(got[g+"/"+r], verbs...)
			}
		}
	}
	return got
}
