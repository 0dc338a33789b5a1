package addons

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/multus-thick/multus-thick/deployments"
)

func TestCorefileHasNoUpstream(t *testing.T) {
	for _, line := range strings.Split(Corefile, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == "forward" || f[0] == "proxy") {
			t.Fatalf("Corefile sends queries upstream: %q", line)
		}
	}
	if !strings.Contains(Corefile, "kubernetes cluster.local") {
		t.Fatal("Corefile no longer serves cluster.local")
	}
}

func flannelObjects(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	objs, err := deployments.Decode(Flannel)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// flannel's Network and kind's podSubnet must agree, or flanneld refuses
// the node CIDRs the controller manager hands out.
func TestFlannelNetworkMatchesKindPodSubnet(t *testing.T) {
	data, err := os.ReadFile("../../../kind-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var kind struct {
		Networking struct {
			PodSubnet string `json:"podSubnet"`
		} `json:"networking"`
	}
	if err := yaml.Unmarshal(data, &kind); err != nil {
		t.Fatal(err)
	}
	for _, o := range flannelObjects(t) {
		if o.GetKind() != "ConfigMap" {
			continue
		}
		raw, _, _ := unstructured.NestedString(o.Object, "data", "net-conf.json")
		var nc struct {
			Network string
			Backend struct{ Type string }
		}
		if err := json.Unmarshal([]byte(raw), &nc); err != nil {
			t.Fatalf("net-conf.json: %v", err)
		}
		if nc.Network != kind.Networking.PodSubnet || nc.Backend.Type != "vxlan" {
			t.Fatalf("flannel %s/%s, want %s/vxlan", nc.Network, nc.Backend.Type, kind.Networking.PodSubnet)
		}
		cni, _, _ := unstructured.NestedString(o.Object, "data", "cni-conf.json")
		var conf struct {
			Plugins []struct{ Type string } `json:"plugins"`
		}
		if err := json.Unmarshal([]byte(cni), &conf); err != nil || len(conf.Plugins) == 0 || conf.Plugins[0].Type != "flannel" {
			t.Fatalf("cni-conf.json = %s (%v), want a conflist starting with the flannel plugin", cni, err)
		}
		return
	}
	t.Fatal("no flannel ConfigMap")
}

func TestFlannelNeverPulls(t *testing.T) {
	n := 0
	for _, o := range flannelObjects(t) {
		for _, f := range []string{"containers", "initContainers"} {
			list, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", f)
			for _, c := range list {
				cm := c.(map[string]any)
				n++
				if cm["image"] != FlannelImage || cm["imagePullPolicy"] != "Never" {
					t.Errorf("container %v: image %v pull %v, want %s and Never", cm["name"], cm["image"], cm["imagePullPolicy"], FlannelImage)
				}
			}
		}
	}
	if n != 2 {
		t.Fatalf("found %d containers, want 2", n)
	}
}

func TestLabNADs(t *testing.T) {
	objs, err := LabNADs()
	if err != nil {
		t.Fatal(err)
	}
	ipam := map[string]bool{}
	for _, o := range objs {
		raw, _, _ := unstructured.NestedString(o.Object, "spec", "config")
		var c struct {
			Type    string
			Master  string
			IPAM    struct{ Type string }
			Plugins []struct {
				Type   string
				Master string
				IPAM   struct{ Type string }
			}
		}
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			t.Fatalf("%s: config is not JSON: %v", o.GetName(), err)
		}
		if len(c.Plugins) > 0 {
			c.Type, c.Master, c.IPAM = c.Plugins[0].Type, c.Plugins[0].Master, c.Plugins[0].IPAM
		}
		if c.Type != "macvlan" || c.Master != "eth0" {
			t.Errorf("%s: %s on %q, want macvlan on eth0", o.GetName(), c.Type, c.Master)
		}
		ipam[c.IPAM.Type] = true
	}
	if !ipam["host-local"] || !ipam["static"] {
		t.Fatalf("lab NAD IPAM types = %v, want host-local and static", ipam)
	}
}
