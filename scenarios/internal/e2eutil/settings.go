//go:build e2e

package e2eutil

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
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
	// Master is the node interface macvlan NADs sit on.
	Master string
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
	if v, ok := lookup("MT_E2E_KEEP"); ok {
		s.Keep = v == "1" || strings.EqualFold(v, "true")
	}
	if s.RunID == "" {
		b := make([]byte, 2)
		_, _ = rand.Read(b) // crypto/rand never fails on Linux
		s.RunID = hex.EncodeToString(b)
	}
	return s
}
