package attach

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	cnitypes "github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"

	"github.com/multus-thick/multus-thick/src/internal/logx"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

func TestAdd(t *testing.T) {
	cases := []struct {
		name      string
		nets      []netSpec
		setup     func(e *testEnv)
		wantCalls []string
		wantErr   string
		wantCode  uint
		wantCache bool
		// wantResultNet is the network whose result ADD returns.
		wantResultNet string
		wantStatuses  []string // "name interface default"
		wantAdded     int
		wantFailed    []string
	}{
		{
			name:          "cluster and two secondaries in order",
			nets:          []netSpec{clusterNet, net1, net2},
			wantCalls:     []string{"ADD cluster eth0", "ADD net-a net1", "ADD net-b data0"},
			wantCache:     true,
			wantResultNet: "cluster",
			wantStatuses:  []string{"cluster eth0 true", "ns/net-a net1 false", "ns/net-b data0 false"},
			wantAdded:     3,
		},
		{
			name:          "conflist delegates",
			nets:          []netSpec{{name: "cluster", typ: "bridge", master: true, conflist: true}, {name: "net-a", typ: "macvlan", conflist: true}},
			wantCalls:     []string{"ADD cluster eth0", "ADD net-a net1"},
			wantCache:     true,
			wantResultNet: "cluster",
			wantStatuses:  []string{"cluster eth0 true", "ns/net-a net1 false"},
			wantAdded:     2,
		},
		{
			name:          "no master: first result",
			nets:          []netSpec{net1, {name: "net-b", typ: "ipvlan"}},
			wantCalls:     []string{"ADD net-a net0", "ADD net-b net1"},
			wantCache:     true,
			wantResultNet: "net-a",
			wantStatuses:  []string{"ns/net-a net0 false", "ns/net-b net1 false"},
			wantAdded:     2,
		},
		{
			name:          "master later in the list wins",
			nets:          []netSpec{net1, {name: "cluster", typ: "bridge", master: true}},
			wantCalls:     []string{"ADD net-a net0", "ADD cluster eth0"},
			wantCache:     true,
			wantResultNet: "cluster",
			wantStatuses:  []string{"ns/net-a net0 false", "cluster eth0 true"},
			wantAdded:     2,
		},
		{
			name:       "second delegate fails: reverse rollback including it",
			nets:       []netSpec{clusterNet, net1, net2},
			setup:      func(e *testEnv) { e.exec.fail["ADD net-a"] = cnitypes.NewError(11, "no free IP", "") },
			wantCalls:  []string{"ADD cluster eth0", "ADD net-a net1", "DEL net-a net1", "DEL cluster eth0"},
			wantErr:    "delegate type=macvlan name=ns/net-a ifname=net1: add: no free IP",
			wantCode:   11,
			wantFailed: []string{"ns/net-a macvlan 11"},
			wantAdded:  1,
		},
		{
			name:       "first delegate fails: only it is deleted",
			nets:       []netSpec{clusterNet, net1},
			setup:      func(e *testEnv) { e.exec.fail["ADD cluster"] = cnitypes.NewError(7, "bad", "") },
			wantCalls:  []string{"ADD cluster eth0", "DEL cluster eth0"},
			wantErr:    "delegate type=bridge name=cluster ifname=eth0: add: bad",
			wantCode:   7,
			wantFailed: []string{"cluster bridge 7"},
		},
		{
			name:       "interface already in netns: not run, earlier ones rolled back",
			nets:       []netSpec{clusterNet, net1},
			setup:      func(e *testEnv) { e.net.links["net1"] = true },
			wantCalls:  []string{"ADD cluster eth0", "DEL cluster eth0"},
			wantErr:    "interface name net1 already exists",
			wantCode:   cnitypes.ErrInvalidNetworkConfig,
			wantFailed: []string{"ns/net-a macvlan 7"},
			wantAdded:  1,
		},
		{
			name:       "duplicate interface names rejected before anything runs",
			nets:       []netSpec{clusterNet, {name: "net-a", typ: "macvlan", ifname: "eth0"}},
			wantErr:    `networks "cluster" and "ns/net-a" both use interface name "eth0"`,
			wantCode:   cnitypes.ErrInvalidNetworkConfig,
			wantFailed: []string{"  7"},
		},
		{
			name:       "interface name over 15 bytes rejected",
			nets:       []netSpec{clusterNet, {name: "net-a", typ: "macvlan", ifname: "a-very-long-ifname"}},
			wantErr:    "interface name is too long",
			wantCode:   cnitypes.ErrInvalidNetworkConfig,
			wantFailed: []string{"  7"},
		},
		{
			name: "two IPv4 default routes: ECMP error names both networks",
			nets: []netSpec{clusterNet,
				{name: "net-a", typ: "macvlan", gateways: []string{"10.1.0.1"}},
				{name: "net-b", typ: "macvlan", gateways: []string{"10.2.0.1"}}},
			wantErr:    `ECMP for default-route: networks "ns/net-a" and "ns/net-b"`,
			wantCode:   cnitypes.ErrInvalidNetworkConfig,
			wantFailed: []string{"  7"},
		},
		{
			name:       "status write fails: everything rolled back",
			nets:       []netSpec{clusterNet, net1},
			setup:      func(e *testEnv) { e.status.err = errors.New("apiserver down") },
			wantCalls:  []string{"ADD cluster eth0", "ADD net-a net1", "DEL net-a net1", "DEL cluster eth0"},
			wantErr:    "write network-status: apiserver down",
			wantCode:   cnitypes.ErrInternal,
			wantFailed: []string{"  999"},
			wantAdded:  2,
		},
		{
			name:          "pod not found: placeholder result, no delegate",
			nets:          []netSpec{clusterNet},
			setup:         func(e *testEnv) { e.pods.pod, e.pods.err = nil, ErrPodNotFound },
			wantResultNet: "placeholder",
		},
		{
			name:          "no Kubernetes: delegates run without pod, no status",
			nets:          []netSpec{clusterNet, net1},
			setup:         func(e *testEnv) { e.a.opts.Pods = nil },
			wantCalls:     []string{"ADD cluster eth0", "ADD net-a net1"},
			wantCache:     true,
			wantResultNet: "cluster",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forVersions(t, func(t *testing.T, v string) {
				e := newEnv(t, v, tc.nets...)
				if tc.setup != nil {
					tc.setup(e)
				}
				res, err := e.a.Add(context.Background(), e.req("ADD", "c1"))
				if got := e.exec.callStrings(); !reflect.DeepEqual(got, tc.wantCalls) {
					t.Errorf("calls = %q\nwant    %q", got, tc.wantCalls)
				}
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("err = %v, want %q", err, tc.wantErr)
					}
					if Code(err) != tc.wantCode {
						t.Errorf("code = %d, want %d", Code(err), tc.wantCode)
					}
				} else if err != nil {
					t.Fatalf("Add: %v", err)
				}
				_, statErr := os.Stat(filepath.Join(e.cniDir, "c1"))
				if gotCache := statErr == nil; gotCache != tc.wantCache {
					t.Errorf("scratch cache present = %v, want %v", gotCache, tc.wantCache)
				}
				if !reflect.DeepEqual(e.events.failed, tc.wantFailed) {
					t.Errorf("AddFailed events = %q, want %q", e.events.failed, tc.wantFailed)
				}
				if len(e.events.added) != tc.wantAdded {
					t.Errorf("AddedInterface events = %q, want %d", e.events.added, tc.wantAdded)
				}
				if err != nil {
					return
				}
				checkResult(t, res, tc.wantResultNet, e)
				var got []string
				for _, s := range e.status.current {
					got = append(got, statusString(s))
				}
				if !reflect.DeepEqual(got, tc.wantStatuses) {
					t.Errorf("statuses = %q, want %q", got, tc.wantStatuses)
				}
			})
		})
	}
}

func statusString(s nadv1.NetworkStatus) string {
	def := "false"
	if s.Default {
		def = "true"
	}
	return s.Name + " " + s.Interface + " " + def
}

func checkResult(t *testing.T, res cnitypes.Result, network string, e *testEnv) {
	t.Helper()
	r, ok := res.(*types100.Result)
	if !ok {
		t.Fatalf("result is %T, want *types100.Result", res)
	}
	if r.CNIVersion != "1.0.0" {
		t.Errorf("result version %q, want 1.0.0", r.CNIVersion)
	}
	if network == "placeholder" {
		if len(r.IPs) != 1 || r.IPs[0].Address.String() != "0.0.0.0/0" || r.Interfaces[0].Name != "eth0" {
			t.Errorf("placeholder result = %+v", r)
		}
		return
	}
	call, _ := e.exec.find("ADD", network)
	want, _ := toV100(mustParse(t, fakeResult(e.version, call), e.version))
	if len(r.IPs) != 1 || r.IPs[0].Address.String() != want.IPs[0].Address.String() {
		t.Errorf("result IPs = %v, want the %s result %v", r.IPs, network, want.IPs)
	}
}

func mustParse(t *testing.T, raw []byte, v string) cnitypes.Result {
	t.Helper()
	res, err := createResult(v, raw)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAddScratchCacheFormat(t *testing.T) {
	forVersions(t, func(t *testing.T, v string) {
		e := newEnv(t, v, clusterNet, net1, net2)
		if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(e.cniDir, "c1")
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("cache mode %v, want 0600", fi.Mode().Perm())
		}
		di, _ := os.Stat(e.cniDir)
		if di.Mode().Perm() != 0o700 {
			t.Errorf("cache dir mode %v, want 0700", di.Mode().Perm())
		}
		data, _ := os.ReadFile(path)
		ds, err := netconf.UnmarshalCache(data)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, d := range ds {
			names = append(names, d.Name+"@"+d.IfnameRequest)
		}
		if want := []string{"cluster@", "ns/net-a@", "ns/net-b@data0"}; !reflect.DeepEqual(names, want) {
			t.Errorf("cached delegates %q, want %q", names, want)
		}
		entries, _ := os.ReadDir(e.cniDir)
		for _, en := range entries {
			if strings.HasPrefix(en.Name(), ".") {
				t.Errorf("temp file left behind: %s", en.Name())
			}
		}
	})
}

// A failed ADD is not logged here: what the rollback did travels with the
// error, for the server's one log line.
func TestAddRollbackAttrsTravelWithTheError(t *testing.T) {
	e := newEnv(t, "1.0.0", clusterNet, net1)
	e.exec.fail["ADD net-a"] = cnitypes.NewError(11, "no free IP", "")
	e.exec.fail["DEL cluster"] = cnitypes.NewError(11, "bridge busy", "")
	_, err := e.a.Add(context.Background(), e.req("ADD", "c1"))
	if err == nil || Code(err) != 11 {
		t.Fatalf("err = %v (code %d), want the ADD's code 11", err, Code(err))
	}
	got := fmt.Sprint(logx.Attrs(err))
	for _, w := range []string{"rolledBack=2", "rollbackErr=", "bridge busy", "cacheKept=" + filepath.Join(e.cniDir, "c1")} {
		if !strings.Contains(got, w) {
			t.Errorf("attributes %s lack %s", got, w)
		}
	}
}
