//go:build e2e

package e2eutil

import (
	"strings"
	"testing"
)

func TestSettingsFrom(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		check   func(Settings) string // "" when the settings are right
		invalid string                // part of Validate's error; "" = valid
	}{
		{
			name: "defaults are the kind lab's",
			env:  map[string]string{"MT_E2E_RUN_ID": "ab12"},
			check: func(s Settings) string {
				if s.NodeAccess != NodeAccessDocker || s.Master != "eth0" || s.NodeImage != s.TestImage || s.Cluster != "mt-lab" || s.PullPolicy != "Never" {
					return "not the lab's defaults"
				}
				return ""
			},
		},
		{
			name: "another cluster: node pods, its own master and node image",
			env: map[string]string{"MT_E2E_NODE_ACCESS": "pod", "MT_E2E_MASTER": "ens5",
				"MT_E2E_NODE_IMAGE": "registry.example/busybox:1", "MT_E2E_RUN_ID": "ci-7"},
			check: func(s Settings) string {
				if s.NodeAccess != NodeAccessPod || s.Master != "ens5" || s.NodeImage != "registry.example/busybox:1" || s.RunID != "ci-7" {
					return "overrides not applied"
				}
				return ""
			},
		},
		{
			name: "the node image follows the test image unless set",
			env:  map[string]string{"MT_E2E_TEST_IMAGE": "mirror/testpod:2"},
			check: func(s Settings) string {
				if s.NodeImage != "mirror/testpod:2" {
					return "node image " + s.NodeImage
				}
				return ""
			},
		},
		{
			name: "empty values keep the defaults",
			env:  map[string]string{"MT_E2E_NODE_ACCESS": "", "MT_E2E_MASTER": ""},
			check: func(s Settings) string {
				return map[bool]string{false: "empty value applied"}[s.NodeAccess == NodeAccessDocker && s.Master == "eth0"]
			},
		},
		{
			name: "keep and skip-disruptive are booleans",
			env:  map[string]string{"MT_E2E_KEEP": "true", "MT_E2E_SKIP_DISRUPTIVE": "1"},
			check: func(s Settings) string {
				return map[bool]string{false: "booleans not read"}[s.Keep && s.SkipDisruptive]
			},
		},
		{
			name: "an empty or 0 SKIP_DISRUPTIVE (make's default) runs everything",
			env:  map[string]string{"MT_E2E_SKIP_DISRUPTIVE": "", "MT_E2E_KEEP": "0"},
			check: func(s Settings) string {
				return map[bool]string{false: "booleans on"}[!s.Keep && !s.SkipDisruptive]
			},
		},
		{name: "pull policy for a cluster with a registry", env: map[string]string{"MT_E2E_PULL_POLICY": "IfNotPresent"},
			check: func(s Settings) string {
				return map[bool]string{false: "pull policy " + s.PullPolicy}[s.PullPolicy == "IfNotPresent"]
			}},
		{name: "unknown pull policy", env: map[string]string{"MT_E2E_PULL_POLICY": "sometimes"}, invalid: "MT_E2E_PULL_POLICY"},
		{name: "unknown node access", env: map[string]string{"MT_E2E_NODE_ACCESS": "ssh"}, invalid: "MT_E2E_NODE_ACCESS"},
		{name: "master that is no interface name", env: map[string]string{"MT_E2E_MASTER": "eth0/1"}, invalid: "MT_E2E_MASTER"},
		{name: "master too long for a link", env: map[string]string{"MT_E2E_MASTER": "a-very-long-ifname"}, invalid: "MT_E2E_MASTER"},
		{name: "run id that cannot name a namespace", env: map[string]string{"MT_E2E_RUN_ID": "CI_7"}, invalid: "MT_E2E_RUN_ID"},
		{name: "generated run id", env: nil, check: func(s Settings) string {
			return map[bool]string{false: "run id " + s.RunID}[len(s.RunID) == 4 && dnsLabel(s.RunID)]
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := SettingsFrom(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			err := s.Validate()
			switch {
			case tc.invalid == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.invalid != "" && (err == nil || !strings.Contains(err.Error(), tc.invalid)):
				t.Fatalf("Validate = %v, want an error naming %s", err, tc.invalid)
			}
			if tc.check != nil {
				if msg := tc.check(s); msg != "" {
					t.Errorf("%s: %+v", msg, s)
				}
			}
		})
	}
}

func TestNodePod(t *testing.T) {
	p := NodePod("mt-ab12-nodes", "worker-2", "img:1", "/bin/busybox")
	if p.Spec.NodeName != "worker-2" || !p.Spec.HostPID || !p.Spec.HostNetwork {
		t.Errorf("pod not pinned to the node's namespaces: node %q hostPID %v hostNetwork %v", p.Spec.NodeName, p.Spec.HostPID, p.Spec.HostNetwork)
	}
	c := p.Spec.Containers[0]
	if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
		t.Error("node pod is not privileged")
	}
	if len(p.Spec.Volumes) != 1 || p.Spec.Volumes[0].HostPath == nil || p.Spec.Volumes[0].HostPath.Path != "/" ||
		len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/host" {
		t.Errorf("node root not at /host: volumes %+v mounts %+v", p.Spec.Volumes, c.VolumeMounts)
	}
	if len(p.Spec.Tolerations) != 1 || p.Spec.Tolerations[0].Operator != "Exists" {
		t.Errorf("tolerations %+v, want every taint tolerated", p.Spec.Tolerations)
	}
	if c.Image != "img:1" || c.Command[0] != "/bin/busybox" {
		t.Errorf("image %s command %v", c.Image, c.Command)
	}
}
