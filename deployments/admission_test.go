package deployments

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestAdmissionPolicyScopesTheDaemon: the policy matches exactly the
// service account the DaemonSet runs as, fails closed, covers pods and
// pods/status, reads the node from the token, and its binding denies.
// (The integration tier proves what it allows and refuses against a real
// API server.)
func TestAdmissionPolicyScopesTheDaemon(t *testing.T) {
	sa := only(t, "ServiceAccount")
	ds := only(t, "DaemonSet")
	if got, _, _ := unstructured.NestedString(ds.Object, "spec", "template", "spec", "serviceAccountName"); got != sa.GetName() {
		t.Fatalf("DaemonSet runs as %q, the ServiceAccount is %q", got, sa.GetName())
	}
	user := "system:serviceaccount:" + sa.GetNamespace() + ":" + sa.GetName()

	policy := only(t, "ValidatingAdmissionPolicy")
	if fp, _, _ := unstructured.NestedString(policy.Object, "spec", "failurePolicy"); fp != "Fail" {
		t.Errorf("failurePolicy = %q, want Fail", fp)
	}
	conds, _, _ := unstructured.NestedSlice(policy.Object, "spec", "matchConditions")
	if len(conds) != 1 || !strings.Contains(conds[0].(map[string]any)["expression"].(string), "'"+user+"'") {
		t.Errorf("matchConditions %v do not select %s", conds, user)
	}
	rules, _, _ := unstructured.NestedSlice(policy.Object, "spec", "matchConstraints", "resourceRules")
	var resources []string
	for _, r := range rules {
		res, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources")
		resources = append(resources, res...)
	}
	for _, want := range []string{"pods", "pods/status"} {
		if !slices.Contains(resources, want) {
			t.Errorf("policy does not cover %s: %v", want, resources)
		}
	}
	vars, _, _ := unstructured.NestedSlice(policy.Object, "spec", "variables")
	var nodeVar string
	for _, v := range vars {
		if m := v.(map[string]any); m["name"] == "node" {
			nodeVar, _ = m["expression"].(string)
		}
	}
	if !strings.Contains(nodeVar, "request.userInfo.extra['authentication.kubernetes.io/node-name']") {
		t.Errorf("node variable %q does not read the token's node-name extra", nodeVar)
	}

	binding := only(t, "ValidatingAdmissionPolicyBinding")
	if name, _, _ := unstructured.NestedString(binding.Object, "spec", "policyName"); name != policy.GetName() {
		t.Errorf("binding's policyName = %q, want %q", name, policy.GetName())
	}
	if actions, _, _ := unstructured.NestedStringSlice(binding.Object, "spec", "validationActions"); !slices.Equal(actions, []string{"Deny"}) {
		t.Errorf("validationActions = %v, want [Deny]", actions)
	}
}
