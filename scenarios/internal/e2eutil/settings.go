//go:build e2e

package e2eutil

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// How the node-side checks reach a node (Settings.NodeAccess).
const (
	// NodeAccessDocker runs `docker exec <node>`: kind nodes are docker
	// containers named after their node, on the machine running the suite.
	NodeAccessDocker = "docker"
	// NodeAccessPod runs the checks in a privileged pod on the node (host
	// PID and network, the node's root at /host), for any cluster.
	NodeAccessPod = "pod"
)

// Settings says where the lab's pieces are. Every field has a default that
// matches `make lab-up`; each can be overridden by an MT_E2E_* variable so
// the suite also runs against a cluster set up by hand.
type Settings struct {
	// Kubeconfig of the lab (the --kubeconfig flag wins over it).
	Kubeconfig string
	// Cluster is the kind cluster name; node containers carry its label.
	Cluster string
	// DaemonNamespace, DaemonSet, DaemonConfigMap and DaemonConfigKey
	// locate our daemon and its daemon-config.json.
	DaemonNamespace string
	DaemonSet       string
	DaemonConfigMap string
	DaemonConfigKey string
	// TestImage is the busybox-static pod image loaded into the nodes.
	TestImage string
	// Busybox is the path of the busybox binary inside TestImage; commands
	// run in pods as `<Busybox> <applet> args...`, so the image needs no
	// applet symlinks.
	Busybox string
	// CNIDir is the daemon's cniDir as seen on the node (scratch and
	// libcni result caches); HostLocalDir is host-local's state dir.
	CNIDir       string
	HostLocalDir string
	// FaultLog is the recordFile our cni-fault NAD fixtures write to, on
	// the node.
	FaultLog string
	// Master is the node interface macvlan NADs sit on: the fixtures say
	// eth0 (a kind node's link) and are rewritten to Master when it differs.
	Master string
	// NodeAccess is how node-side checks (leases, caches, veths, processes)
	// reach a node: NodeAccessDocker or NodeAccessPod. NodeImage is the
	// image of the node pods (default TestImage; it needs busybox's chroot
	// and sleep applets at Busybox).
	NodeAccess string
	NodeImage  string
	// PullPolicy is the test and node pods' imagePullPolicy: Never on the
	// lab (its images are loaded, nothing is pulled); IfNotPresent lets
	// another cluster's nodes fetch TestImage from its registry.
	PullPolicy string
	// UpgradeImage, when set, names a different daemon image to roll to in
	// the upgrade scenario; otherwise the current image is re-tagged on
	// every node, which replaces every daemon container but not the code.
	UpgradeImage string
	// Keep leaves namespaces, NADs, pods and daemon changes in place (make
	// repro); Artifacts is where logs are exported ("" = nowhere).
	Keep      bool
	Artifacts string
	// RunID prefixes every namespace the suite creates.
	RunID string
	// SkipDisruptive leaves out the features labelled disruptive=true
	// (shared clusters); the --skip-disruptive flag sets it too.
	SkipDisruptive bool
}

// DefaultSettings are the lab's names (deployments/, lab/).
func DefaultSettings() Settings {
	return Settings{
		Cluster:         "mt-lab",
		DaemonNamespace: "kube-system",
		DaemonSet:       "kube-multus-ds",
		DaemonConfigMap: "multus-daemon-config",
		DaemonConfigKey: "daemon-config.json",
		TestImage:       "localhost/mt-testpod:lab",
		Busybox:         "/bin/busybox",
		CNIDir:          "/var/lib/cni/multus",
		HostLocalDir:    "/var/lib/cni/networks",
		FaultLog:        "/var/log/cni-fault.log",
		Master:          "eth0",
		NodeAccess:      NodeAccessDocker,
		PullPolicy:      "Never",
	}
}

// SettingsFrom applies MT_E2E_* overrides from lookup (os.LookupEnv in
// TestMain) to the defaults.
func SettingsFrom(lookup func(string) (string, bool)) Settings {
	s := DefaultSettings()
	str := map[string]*string{
		"MT_E2E_KUBECONFIG":    &s.Kubeconfig,
		"MT_E2E_CLUSTER":       &s.Cluster,
		"MT_E2E_DAEMON_NS":     &s.DaemonNamespace,
		"MT_E2E_DAEMONSET":     &s.DaemonSet,
		"MT_E2E_DAEMON_CONFIG": &s.DaemonConfigMap,
		"MT_E2E_CONFIG_KEY":    &s.DaemonConfigKey,
		"MT_E2E_TEST_IMAGE":    &s.TestImage,
		"MT_E2E_BUSYBOX":       &s.Busybox,
		"MT_E2E_CNI_DIR":       &s.CNIDir,
		"MT_E2E_HOSTLOCAL_DIR": &s.HostLocalDir,
		"MT_E2E_FAULT_LOG":     &s.FaultLog,
		"MT_E2E_MASTER":        &s.Master,
		"MT_E2E_NODE_ACCESS":   &s.NodeAccess,
		"MT_E2E_NODE_IMAGE":    &s.NodeImage,
		"MT_E2E_PULL_POLICY":   &s.PullPolicy,
		"MT_E2E_UPGRADE_IMAGE": &s.UpgradeImage,
		"MT_E2E_ARTIFACTS":     &s.Artifacts,
		"MT_E2E_RUN_ID":        &s.RunID,
	}
	for k, p := range str {
		if v, ok := lookup(k); ok && v != "" {
			*p = v
		}
	}
	if s.Kubeconfig == "" {
		if v, ok := lookup("KUBECONFIG"); ok {
			s.Kubeconfig = v
		}
	}
	s.Keep = truthy(lookup("MT_E2E_KEEP"))
	s.SkipDisruptive = truthy(lookup("MT_E2E_SKIP_DISRUPTIVE"))
	if s.NodeImage == "" {
		s.NodeImage = s.TestImage
	}
	if s.RunID == "" {
		b := make([]byte, 2)
		_, _ = rand.Read(b) // crypto/rand never fails on Linux
		s.RunID = hex.EncodeToString(b)
	}
	return s
}

// Validate reports settings the suite cannot run with, naming the variable.
func (s Settings) Validate() error {
	switch s.NodeAccess {
	case NodeAccessDocker, NodeAccessPod:
	default:
		return fmt.Errorf("MT_E2E_NODE_ACCESS=%q: want %q (kind nodes on this machine) or %q (a privileged pod per node)",
			s.NodeAccess, NodeAccessDocker, NodeAccessPod)
	}
	switch s.PullPolicy {
	case "Never", "IfNotPresent", "Always":
	default:
		return fmt.Errorf("MT_E2E_PULL_POLICY=%q: want Never, IfNotPresent or Always", s.PullPolicy)
	}
	if s.Master == "" || len(s.Master) > 15 || strings.ContainsAny(s.Master, " /") {
		return fmt.Errorf("MT_E2E_MASTER=%q is not an interface name", s.Master)
	}
	if s.RunID != "" && !dnsLabel(s.RunID) {
		return fmt.Errorf("MT_E2E_RUN_ID=%q: namespaces are named after it; use lower-case letters, digits and '-'", s.RunID)
	}
	return nil
}

// truthy reads a boolean variable: "1" or "true" (any case) is on.
func truthy(v string, ok bool) bool {
	return ok && (v == "1" || strings.EqualFold(v, "true"))
}

func dnsLabel(v string) bool {
	if len(v) > 20 || v[0] == '-' || v[len(v)-1] == '-' {
		return false
	}
	for _, c := range v {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}
