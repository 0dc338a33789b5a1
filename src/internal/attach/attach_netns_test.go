//go:build netns

package attach

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/containernetworking/cni/pkg/invoke"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"

	"github.com/multus-thick/multus-thick/src/internal/delegate"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
	"github.com/multus-thick/multus-thick/src/internal/testutil"
)

// These tests run the reference plugins (MT_PLUGINS) through the attach
// code in-process, in throwaway network namespaces: a "host" namespace
// standing in for the node (so bridges and veths never touch the real
// host) and a "pod" namespace.

// pluginsDir is the reference plugins these tests run.
func pluginsDir(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t)
	return testutil.PluginDir(t, "bridge", "macvlan", "host-local", "static", "flannel")
}

// netnsEnv is a host and a pod namespace plus an Attacher running real
// plugins.
type netnsEnv struct {
	t        *testing.T
	host     ns.NetNS
	pod      ns.NetNS
	tmp      string
	binDir   string
	version  string
	nets     []netnsNet
	a        *Attacher
	resolver *fakeResolver
	pods     *fakePods
}

type netnsNet struct {
	config   string
	name     string
	master   bool
	gateways []string
}

func newNetnsEnv(t *testing.T, version string, exec invoke.Exec, binDir string) *netnsEnv {
	e := &netnsEnv{t: t, host: testutil.NewNetns(t), pod: testutil.NewNetns(t), tmp: t.TempDir(), binDir: binDir, version: version}
	e.resolver = &fakeResolver{build: func(*corev1.Pod) []*netconf.Delegate { return e.delegates() }}
	// Pods nil: no Kubernetes, the DEL-without-cache rule applies; tests
	// that want a rebuild set e.pods.
	a, err := New(Options{Resolver: e.resolver, Exec: exec, CNIDir: filepath.Join(e.tmp, "multus"), BinDir: binDir})
	if err != nil {
		t.Fatal(err)
	}
	e.a = a
	// A veth pair in the host namespace is the macvlan master (no dummy
	// or ipvlan kernel modules needed).
	err = e.host.Do(func(ns.NetNS) error {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "mt-up0"}, PeerName: "mt-up1"}
		if err := netlink.LinkAdd(veth); err != nil {
			return err
		}
		for _, name := range []string{"mt-up0", "mt-up1", "lo"} {
			l, err := netlinksafe.LinkByName(name)
			if err != nil {
				return err
			}
			if err := netlink.LinkSetUp(l); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *netnsEnv) delegates() []*netconf.Delegate {
	var ds []*netconf.Delegate
	for _, n := range e.nets {
		d, err := netconf.LoadDelegate([]byte(n.config))
		if err != nil {
			e.t.Fatal(err)
		}
		d.MasterPlugin = n.master
		if n.name != "" {
			d.Name = n.name
		}
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

func (e *netnsEnv) ipamDir() string { return filepath.Join(e.tmp, "ipam") }

func (e *netnsEnv) bridgeNet() netnsNet {
	return netnsNet{master: true, config: fmt.Sprintf(`{"cniVersion":%q,"name":"mt-cluster","type":"bridge","bridge":"mt-br0",
		"isGateway":true,"isDefaultGateway":true,"ipam":{"type":"host-local","subnet":"10.99.0.0/24","dataDir":%q}}`, e.version, e.ipamDir())}
}

func (e *netnsEnv) macvlanNet(master string, gateways ...string) netnsNet {
	n := netnsNet{name: "default/mt-macvlan", config: fmt.Sprintf(`{"cniVersion":%q,"name":"mt-macvlan","type":"macvlan","master":%q,"mode":"bridge",
		"ipam":{"type":"static","addresses":[{"address":"10.98.0.5/24","gateway":"10.98.0.1"}]}}`, e.version, master)}
	if gateways != nil {
		n.gateways = gateways
	}
	return n
}

func (e *netnsEnv) req(cmd string) *Request {
	cfg := fmt.Sprintf(`{"cniVersion":%q,"name":"multus-cni-network","type":"multus-shim","clusterNetwork":"mt-cluster","cniDir":%q,"binDir":%q}`,
		e.version, filepath.Join(e.tmp, "multus"), e.binDir)
	return &Request{Command: cmd, ContainerID: "mt-netns-c1", Netns: e.pod.Path(), IfName: "eth0",
		Config: []byte(cfg), Logger: discardLogger()}
}

// inHost runs f in the host namespace: plugins started from there create
// their host-side links in it.
func (e *netnsEnv) inHost(f func() error) error {
	return e.host.Do(func(ns.NetNS) error { return f() })
}

// podAddrs returns ifname -> IPv4 CIDRs inside the pod namespace.
func (e *netnsEnv) podAddrs() map[string][]string {
	e.t.Helper()
	out := map[string][]string{}
	err := e.pod.Do(func(ns.NetNS) error {
		links, err := netlinksafe.LinkList()
		if err != nil {
			return err
		}
		for _, l := range links {
			if l.Attrs().Name == "lo" {
				continue
			}
			addrs, err := netlinksafe.AddrList(l, netlink.FAMILY_V4)
			if err != nil {
				return err
			}
			out[l.Attrs().Name] = nil
			for _, a := range addrs {
				out[l.Attrs().Name] = append(out[l.Attrs().Name], a.IPNet.String())
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// podDefaultRoutes returns "ifname via gw" for each IPv4 default route.
func (e *netnsEnv) podDefaultRoutes() []string {
	e.t.Helper()
	var out []string
	err := e.pod.Do(func(ns.NetNS) error {
		routes, err := netlinksafe.RouteList(nil, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if !isDefaultDst(r.Dst) {
				continue
			}
			l, err := netlink.LinkByIndex(r.LinkIndex)
			if err != nil {
				return err
			}
			out = append(out, l.Attrs().Name+" via "+r.Gw.String())
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// leasedIPs lists host-local's reservations for network (files named by IP).
func (e *netnsEnv) leasedIPs(network string) []string {
	entries, err := os.ReadDir(filepath.Join(e.ipamDir(), network))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, en := range entries {
		if net.ParseIP(en.Name()) != nil {
			out = append(out, en.Name())
		}
	}
	return out
}

func TestNetnsBridgeAndMacvlan(t *testing.T) {
	bin := pluginsDir(t)
	for _, v := range []string{"0.3.1", "1.0.0"} {
		t.Run("cni"+v, func(t *testing.T) {
			e := newNetnsEnv(t, v, nil, bin)
			e.nets = []netnsNet{e.bridgeNet(), e.macvlanNet("mt-up0")}
			var res *types100.Result
			err := e.inHost(func() error {
				r, err := e.a.Add(context.Background(), e.req("ADD"))
				if err == nil {
					res = r.(*types100.Result)
				}
				return err
			})
			if err != nil {
				t.Fatalf("ADD: %v", err)
			}
			addrs := e.podAddrs()
			if len(addrs["eth0"]) != 1 || !strings.HasPrefix(addrs["eth0"][0], "10.99.0.") {
				t.Errorf("eth0 addresses = %v", addrs["eth0"])
			}
			if fmt.Sprint(addrs["net1"]) != "[10.98.0.5/24]" {
				t.Errorf("net1 addresses = %v", addrs["net1"])
			}
			if len(res.IPs) != 1 || res.IPs[0].Address.String() != addrs["eth0"][0] {
				t.Errorf("result IPs %v, want the cluster network's %v", res.IPs, addrs["eth0"])
			}
			if got := e.leasedIPs("mt-cluster"); len(got) != 1 {
				t.Errorf("host-local leases = %v, want 1", got)
			}

			// CHECK against real plugins.
			if v != "0.3.1" {
				if err := e.inHost(func() error { return e.a.Check(context.Background(), e.req("CHECK")) }); err != nil {
					t.Errorf("CHECK: %v", err)
				}
			}

			if err := e.inHost(func() error { return e.a.Del(context.Background(), e.req("DEL")) }); err != nil {
				t.Fatalf("DEL: %v", err)
			}
			if got := e.podAddrs(); len(got) != 0 {
				t.Errorf("links left in the pod after DEL: %v", got)
			}
			if got := e.leasedIPs("mt-cluster"); len(got) != 0 {
				t.Errorf("host-local leases after DEL = %v", got)
			}
			// Second DEL without a cache and without Kubernetes: nothing to do.
			if err := e.inHost(func() error { return e.a.Del(context.Background(), e.req("DEL")) }); err != nil {
				t.Fatalf("second DEL: %v", err)
			}
			// Third DEL with a known pod: the delegates are rebuilt and run
			// again against an already-clean namespace; still success.
			e.a.opts.Pods = &fakePods{pod: testPod()}
			req := e.req("DEL")
			req.Pod = PodRef{Namespace: "ns", Name: "pod"}
			if err := e.inHost(func() error { return e.a.Del(context.Background(), req) }); err != nil {
				t.Fatalf("DEL with rebuilt delegates on a clean netns: %v", err)
			}
		})
	}
}

func TestNetnsRollback(t *testing.T) {
	bin := pluginsDir(t)
	e := newNetnsEnv(t, "1.0.0", nil, bin)
	e.nets = []netnsNet{e.bridgeNet(), e.macvlanNet("mt-no-such-master")}
	err := e.inHost(func() error {
		_, err := e.a.Add(context.Background(), e.req("ADD"))
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "name=default/mt-macvlan ifname=net1: add:") {
		t.Fatalf("ADD err = %v, want the macvlan delegate named", err)
	}
	if got := e.podAddrs(); len(got) != 0 {
		t.Errorf("links leaked in the pod: %v", got)
	}
	if got := e.leasedIPs("mt-cluster"); len(got) != 0 {
		t.Errorf("host-local leases leaked: %v", got)
	}
	if _, err := os.Stat(filepath.Join(e.tmp, "multus", "mt-netns-c1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("scratch cache left behind: %v", err)
	}
}

func TestNetnsExistingInterfaceRejected(t *testing.T) {
	bin := pluginsDir(t)
	e := newNetnsEnv(t, "1.0.0", nil, bin)
	e.nets = []netnsNet{e.bridgeNet(), e.macvlanNet("mt-up0")}
	// Something already owns "net1" in the pod.
	err := e.pod.Do(func(ns.NetNS) error {
		return netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "net1"}, PeerName: "mt-peer"})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = e.inHost(func() error {
		_, err := e.a.Add(context.Background(), e.req("ADD"))
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "interface name net1 already exists") {
		t.Fatalf("ADD err = %v", err)
	}
	addrs := e.podAddrs()
	if _, ok := addrs["eth0"]; ok {
		t.Errorf("eth0 not rolled back: %v", addrs)
	}
	if _, ok := addrs["net1"]; !ok {
		t.Errorf("the pre-existing net1 was deleted by the rollback: %v", addrs)
	}
}

func TestNetnsDefaultRouteMoved(t *testing.T) {
	bin := pluginsDir(t)
	e := newNetnsEnv(t, "1.0.0", nil, bin)
	e.nets = []netnsNet{e.bridgeNet(), e.macvlanNet("mt-up0", "10.98.0.1")}
	err := e.inHost(func() error {
		_, err := e.a.Add(context.Background(), e.req("ADD"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(e.podDefaultRoutes()); got != "[net1 via 10.98.0.1]" {
		t.Errorf("default routes in the pod = %s, want only net1 via 10.98.0.1", got)
	}
	if got := cachedDefaultRoutes(t, filepath.Join(e.tmp, "multus", "results", "mt-cluster-mt-netns-c1-eth0")); got != "" {
		t.Errorf("cluster result cache still has default route %q", got)
	}
	if err := e.inHost(func() error { return e.a.Del(context.Background(), e.req("DEL")) }); err != nil {
		t.Fatal(err)
	}
}

// TestNetnsChroot runs flannel (which itself execs bridge and host-local)
// chrooted into a prepared root: plugins are found inside the root, and
// the flannel subnet file and IPAM state live there too.
func TestNetnsChroot(t *testing.T) {
	bin := pluginsDir(t)
	root := t.TempDir()
	for _, p := range []string{"flannel", "bridge", "host-local"} {
		copyFile(t, filepath.Join(bin, p), filepath.Join(root, "opt/cni/bin", p), 0o755)
	}
	writeFile(t, filepath.Join(root, "run/flannel/subnet.env"),
		"FLANNEL_NETWORK=10.96.0.0/16\nFLANNEL_SUBNET=10.96.1.1/24\nFLANNEL_MTU=1400\nFLANNEL_IPMASQ=true\n")
	e := newNetnsEnv(t, "0.3.1", delegate.NewChrootExec(root), "/opt/cni/bin")
	// The netns path must resolve identically inside the root, as the
	// host's /run/netns does in a real chroot into the host root; and the
	// bridge plugin needs /proc/sys.
	nsDir := filepath.Dir(e.pod.Path())
	bindMount(t, nsDir, filepath.Join(root, nsDir), syscall.MS_BIND|syscall.MS_REC)
	procMount(t, filepath.Join(root, "proc"))
	e.nets = []netnsNet{{master: true, config: `{"cniVersion":"0.3.1","name":"cbr0","plugins":[{"type":"flannel","delegate":{"bridge":"mt-cni0","isDefaultGateway":true,"ipMasq":false}}]}`}}

	if err := e.inHost(func() error { _, err := e.a.Add(context.Background(), e.req("ADD")); return err }); err != nil {
		t.Fatalf("ADD: %v", err)
	}
	addrs := e.podAddrs()
	if len(addrs["eth0"]) != 1 || !strings.HasPrefix(addrs["eth0"][0], "10.96.1.") {
		t.Errorf("eth0 addresses = %v, want one in flannel's 10.96.1.0/24", addrs)
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/cni/flannel/mt-netns-c1")); err != nil {
		t.Errorf("flannel state not written inside the root: %v", err)
	}
	if err := e.inHost(func() error { return e.a.Del(context.Background(), e.req("DEL")) }); err != nil {
		t.Fatalf("DEL: %v", err)
	}
	if got := e.podAddrs(); len(got) != 0 {
		t.Errorf("links left after DEL: %v", got)
	}
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func bindMount(t *testing.T, src, dst string, flags uintptr) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(src, dst, "", flags, ""); err != nil {
		t.Fatalf("bind %s on %s: %v", src, dst, err)
	}
	// A bind of a shared mount (the netns dir usually is) joins its peer
	// group, and unmounting it would then unmount the real netns files
	// too; make the copy private first.
	if err := syscall.Mount("", dst, "", syscall.MS_PRIVATE|syscall.MS_REC, ""); err != nil {
		_ = syscall.Unmount(dst, syscall.MNT_DETACH)
		t.Fatalf("make %s private: %v", dst, err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dst, syscall.MNT_DETACH) })
}

func procMount(t *testing.T, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("proc", dst, "proc", 0, ""); err != nil {
		t.Fatalf("mount proc on %s: %v", dst, err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dst, syscall.MNT_DETACH) })
}

// TestNetnsGCAndStatus: GC with the runtime's valid attachments deletes a
// stale pod's interfaces and IPAM lease and keeps the live one; STATUS
// reaches the real plugins at 1.1.0.
func TestNetnsGCAndStatus(t *testing.T) {
	bin := pluginsDir(t)
	e := newNetnsEnv(t, "1.1.0", nil, bin)
	e.nets = []netnsNet{e.bridgeNet(), e.macvlanNet("mt-up0")}
	stalePod := testutil.NewNetns(t)
	live := e.req("ADD")
	stale := e.req("ADD")
	stale.ContainerID, stale.Netns = "mt-netns-stale", stalePod.Path()
	err := e.inHost(func() error {
		for _, r := range []*Request{live, stale} {
			if _, err := e.a.Add(context.Background(), r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ADD: %v", err)
	}
	if got := e.leasedIPs("mt-cluster"); len(got) != 2 {
		t.Fatalf("leases before GC = %v", got)
	}
	gc := e.req("GC")
	var cfg map[string]any
	if err := json.Unmarshal(gc.Config, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["cni.dev/valid-attachments"] = []map[string]string{{"containerID": live.ContainerID, "ifname": "eth0"}}
	gc.Config, _ = json.Marshal(cfg)
	if err := e.inHost(func() error { return e.a.GC(context.Background(), gc) }); err != nil {
		t.Fatalf("GC: %v", err)
	}
	if got := e.leasedIPs("mt-cluster"); len(got) != 1 {
		t.Errorf("leases after GC = %v, want only the live pod's", got)
	}
	if got := e.podAddrs(); len(got["eth0"]) != 1 || len(got["net1"]) != 1 {
		t.Errorf("live pod lost interfaces: %v", got)
	}
	err = stalePod.Do(func(ns.NetNS) error {
		for _, name := range []string{"eth0", "net1"} {
			if _, err := netlinksafe.LinkByName(name); err == nil {
				return fmt.Errorf("stale pod still has %s", name)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(e.tmp, "multus", stale.ContainerID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale delegate cache kept: %v", err)
	}
	if err := e.inHost(func() error { return e.a.Status(context.Background(), e.req("STATUS")) }); err != nil {
		t.Errorf("STATUS: %v", err)
	}
	if err := e.inHost(func() error { return e.a.Del(context.Background(), live) }); err != nil {
		t.Fatal(err)
	}
}
