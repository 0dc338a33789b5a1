package deployments

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func optionalObject(t *testing.T, dir, kind string) *unstructured.Unstructured {
	t.Helper()
	objs, err := OptionalObjects(dir)
	return oneOfKind(t, dir+"/", objs, err, kind)
}

// Each optional directory's kustomization lists every file in it (a file
// it forgets would be in the repository and never applied) and decodes.
func TestOptionalKustomizationsListEveryFile(t *testing.T) {
	for _, tc := range []struct {
		dir   string
		kinds []string
	}{
		{DRADir, []string{"DeviceClass", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"}},
		{PerNodeCertificateDir, []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ClusterRoleBinding", "ClusterRoleBinding", "Deployment"}},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			data, err := optionalFiles.ReadFile(tc.dir + "/kustomization.yaml")
			if err != nil {
				t.Fatal(err)
			}
			k, err := parseKustomization(data)
			if err != nil {
				t.Fatal(err)
			}
			files, err := optionalFileNames(tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			listed := slices.Sorted(slices.Values(k.Resources))
			if !slices.Equal(listed, files) {
				t.Errorf("%s/kustomization.yaml lists %v, the directory holds %v", tc.dir, listed, files)
			}
			objs, err := OptionalObjects(tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := kinds(objs); !slices.Equal(got, tc.kinds) {
				t.Errorf("%s/ objects = %v, want %v", tc.dir, got, tc.kinds)
			}
		})
	}
	if _, err := OptionalObjects("upstream"); err == nil || !strings.Contains(err.Error(), `"upstream"`) {
		t.Errorf("OptionalObjects(upstream) = %v, want an error naming it", err)
	}
}

// onlyContainer is the one container of a workload.
func onlyContainer(t *testing.T, o *unstructured.Unstructured) map[string]any {
	t.Helper()
	list, _, err := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
	if err != nil || len(list) != 1 {
		t.Fatalf("%s %s: containers %v (%v), want one", o.GetKind(), o.GetName(), list, err)
	}
	return list[0].(map[string]any)
}

// cert-approver runs from the daemon's image (the binary is in
// /usr/src/multus-cni/bin with the others), as its own service account,
// with no host access and no privilege.
func TestCertApproverDeployment(t *testing.T) {
	dep := optionalObject(t, PerNodeCertificateDir, "Deployment")
	c := onlyContainer(t, dep)
	if init, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "initContainers"); len(init) > 0 {
		t.Errorf("cert-approver has init containers %v", init)
	}
	daemon := onlyContainer(t, only(t, "DaemonSet"))
	if c["image"] != daemon["image"] {
		t.Errorf("cert-approver image = %v, want the daemon's %v", c["image"], daemon["image"])
	}
	if p := c["imagePullPolicy"]; p != "IfNotPresent" {
		t.Errorf("imagePullPolicy = %v, want IfNotPresent (the lab is offline)", p)
	}
	cmd, _, _ := unstructured.NestedStringSlice(c, "command")
	if !slices.Equal(cmd, []string{"/usr/src/multus-cni/bin/cert-approver"}) {
		t.Errorf("command = %v, want the image's cert-approver", cmd)
	}
	if r, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas"); r != 1 {
		t.Errorf("replicas = %d, want 1", r)
	}
	spec, _, _ := unstructured.NestedMap(dep.Object, "spec", "template", "spec")
	sa, _ := spec["serviceAccountName"].(string)
	if sa != optionalObject(t, PerNodeCertificateDir, "ServiceAccount").GetName() {
		t.Errorf("serviceAccountName %q is not the directory's ServiceAccount", sa)
	}
	bound := false
	objs, _ := OptionalObjects(PerNodeCertificateDir)
	for _, o := range objs {
		role, _, _ := unstructured.NestedString(o.Object, "roleRef", "name")
		subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
		for _, s := range subjects {
			sm := s.(map[string]any)
			if o.GetKind() == "ClusterRoleBinding" && role == "multus-cert-approver" && sm["kind"] == "ServiceAccount" &&
				sm["name"] == sa && sm["namespace"] == dep.GetNamespace() {
				bound = true
			}
		}
	}
	if !bound {
		t.Errorf("no ClusterRoleBinding gives %s/%s the multus-cert-approver role", dep.GetNamespace(), sa)
	}
	for _, k := range []string{"hostNetwork", "hostPID", "volumes"} {
		if _, ok := spec[k]; ok {
			t.Errorf("pod spec sets %s: cert-approver only talks to the API server", k)
		}
	}
	if v, _, _ := unstructured.NestedBool(spec, "securityContext", "runAsNonRoot"); !v {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	sc, _, _ := unstructured.NestedMap(c, "securityContext")
	drop, _, _ := unstructured.NestedStringSlice(sc, "capabilities", "drop")
	if sc["allowPrivilegeEscalation"] != false || sc["readOnlyRootFilesystem"] != true || !slices.Equal(drop, []string{"ALL"}) {
		t.Errorf("container securityContext = %v, want no escalation, read-only root, all capabilities dropped", sc)
	}
}

// The DRA test driver: its image is the lab's and never pulled, its
// DeviceClass selects its driver, it mounts only the kubelet's plugin
// directories and the device-info directory the daemon mounts too, and
// its role is what kubeletplugin needs.
func TestDRADriverManifests(t *testing.T) {
	ds := optionalObject(t, DRADir, "DaemonSet")
	c := onlyContainer(t, ds)
	if c["image"] != "localhost/mt-dra-plugin:lab" || c["imagePullPolicy"] != "Never" {
		t.Errorf("image %v pull %v, want localhost/mt-dra-plugin:lab, Never", c["image"], c["imagePullPolicy"])
	}
	const driver = "fakenic.multus-thick.io"
	class := optionalObject(t, DRADir, "DeviceClass")
	sel, _, _ := unstructured.NestedSlice(class.Object, "spec", "selectors")
	if len(sel) != 1 {
		t.Fatalf("DeviceClass selectors = %v, want one", sel)
	}
	if expr, _, _ := unstructured.NestedString(sel[0].(map[string]any), "cel", "expression"); expr != `device.driver == "`+driver+`"` {
		t.Errorf("DeviceClass selects %q, want the driver %s", expr, driver)
	}
	vols, _, _ := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", "volumes")
	paths := map[string]bool{}
	for _, v := range vols {
		p, _, _ := unstructured.NestedString(v.(map[string]any), "hostPath", "path")
		paths[p] = true
	}
	want := map[string]bool{
		"/var/lib/kubelet/plugins_registry":  true,
		"/var/lib/kubelet/plugins/" + driver: true,
		"/run/k8s.cni.cncf.io/devinfo/dp":    true,
	}
	if !mapsEqual(paths, want) {
		t.Errorf("hostPaths = %v, want %v", paths, want)
	}
	// The daemon finds the files in the host directory it mounts.
	daemonPaths := map[string]bool{}
	dvols, _, _ := unstructured.NestedSlice(only(t, "DaemonSet").Object, "spec", "template", "spec", "volumes")
	for _, v := range dvols {
		p, _, _ := unstructured.NestedString(v.(map[string]any), "hostPath", "path")
		daemonPaths[p] = true
	}
	if !daemonPaths["/run/k8s.cni.cncf.io"] {
		t.Error("the daemon does not mount /run/k8s.cni.cncf.io, where the driver writes device-info")
	}
	got := ruleVerbs(optionalObject(t, DRADir, "ClusterRole"))
	wantRules := map[string][]string{
		"resource.k8s.io/resourceslices": {"get", "list", "watch", "create", "update", "delete"},
		"resource.k8s.io/resourceclaims": {"get"},
		"/nodes":                         {"get"},
	}
	if len(got) != len(wantRules) {
		t.Errorf("role covers %v, want %v", got, wantRules)
	}
	for k, v := range wantRules {
		if !slices.Equal(slices.Sorted(slices.Values(got[k])), slices.Sorted(slices.Values(v))) {
			t.Errorf("%s verbs = %v, want %v", k, got[k], v)
		}
	}
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}
