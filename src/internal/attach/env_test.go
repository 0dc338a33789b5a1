package attach

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/multus-thick/multus-thick/src/internal/netconf"
	"github.com/multus-thick/multus-thick/src/internal/testutil"
)

// testEnv is an Attacher wired to fakes, with a temp cniDir.
type testEnv struct {
	t        testing.TB
	version  string
	cniDir   string
	exec     *fakeExec
	resolver *fakeResolver
	pods     *fakePods
	status   *fakeStatus
	events   *fakeEvents
	observer *fakeObserver
	net      *fakeNet
	a        *Attacher
	// runtimeConfig is put into the Multus config of each request.
	runtimeConfig string
	multusExtra   map[string]any
}

func newEnv(t testing.TB, version string, nets ...netSpec) *testEnv {
	t.Helper()
	e := &testEnv{
		t: t, version: version, cniDir: filepath.Join(t.TempDir(), "multus"),
		exec:     &fakeExec{fail: map[string]error{}},
		pods:     &fakePods{pod: testPod()},
		status:   &fakeStatus{},
		events:   &fakeEvents{},
		observer: &fakeObserver{},
		net:      &fakeNet{links: map[string]bool{}},
	}
	e.resolver = &fakeResolver{build: func(*corev1.Pod) []*netconf.Delegate { return e.delegates(nets) }}
	a, err := New(Options{
		Pods: e.pods, Resolver: e.resolver, Status: e.status, Events: e.events, Exec: e.exec,
		Observer: e.observer, DevInfoDir: filepath.Join(t.TempDir(), "devinfo"),
		BinDir: "/fake/bin", CNIDir: e.cniDir,
	})
	if err != nil {
		t.Fatal(err)
	}
	a.net = e.net
	e.a = a
	return e
}

// netSpec describes one delegate the fake resolver returns.
type netSpec struct {
	name     string // CNI name; the delegate name is "ns/<name>" for secondaries
	typ      string
	master   bool
	conflist bool
	ifname   string
	mac      string
	ips      []string
	gateways []string
	ports    []*netconf.PortMapEntry
	extra    map[string]any // extra plugin keys
}

func (e *testEnv) delegates(nets []netSpec) []*netconf.Delegate {
	e.t.Helper()
	var ds []*netconf.Delegate
	for _, n := range nets {
		plugin := map[string]any{"type": n.typ, "capabilities": map[string]bool{"portMappings": true, "ips": true, "mac": true, "bandwidth": true, "deviceID": true, "CNIDeviceInfoFile": true}}
		for k, v := range n.extra {
			plugin[k] = v
		}
		var cfg map[string]any
		if n.conflist {
			cfg = map[string]any{"cniVersion": e.version, "name": n.name, "plugins": []any{plugin}}
		} else {
			cfg = plugin
			cfg["cniVersion"], cfg["name"] = e.version, n.name
		}
		raw, _ := json.Marshal(cfg)
		d, err := netconf.LoadDelegate(raw)
		if err != nil {
			e.t.Fatal(err)
		}
		d.MasterPlugin = n.master
		if !n.master {
			d.Name = "ns/" + n.name
		}
		d.IfnameRequest, d.MacRequest, d.IPRequest, d.PortMappingsRequest = n.ifname, n.mac, n.ips, n.ports
		if n.gateways != nil {
			gws := []net.IP{}
			for _, g := range n.gateways {
				gws = append(gws, net.ParseIP(g))
			}
			d.GatewayRequest = &gws
		}
		ds = append(ds, d)
	}
	return ds
}

func (e *testEnv) multusConfig() []byte {
	cfg := map[string]any{
		"cniVersion": e.version, "name": "multus-cni-network", "type": "multus-shim",
		"clusterNetwork": "cluster", "cniDir": e.cniDir, "binDir": "/fake/bin",
	}
	if e.runtimeConfig != "" {
		cfg["runtimeConfig"] = json.RawMessage(e.runtimeConfig)
	}
	for k, v := range e.multusExtra {
		cfg[k] = v
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return raw
}

func (e *testEnv) req(cmd, containerID string) *Request {
	return &Request{
		Command: cmd, ContainerID: containerID, Netns: "/var/run/netns/" + containerID, IfName: "eth0",
		CNIArgs: fmt.Sprintf("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=pod;K8S_POD_INFRA_CONTAINER_ID=%s;K8S_POD_UID=uid-1", containerID),
		Pod:     PodRef{Namespace: "ns", Name: "pod", UID: "uid-1", SandboxID: containerID},
		Config:  e.multusConfig(), Logger: discardLogger(),
	}
}

func forVersions(t *testing.T, f func(t *testing.T, version string)) {
	for _, v := range testutil.SpecVersions {
		t.Run("cni"+v, func(t *testing.T) { f(t, v) })
	}
}

var (
	clusterNet = netSpec{name: "cluster", typ: "bridge", master: true}
	net1       = netSpec{name: "net-a", typ: "macvlan"}
	net2       = netSpec{name: "net-b", typ: "ipvlan", ifname: "data0"}
)
