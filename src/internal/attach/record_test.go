package attach

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	cnitypes "github.com/containernetworking/cni/pkg/types"
	corev1 "k8s.io/api/core/v1"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

func (e *testEnv) record(id string) []*netconf.Delegate {
	e.t.Helper()
	ds, state, err := readScratch(filepath.Join(e.cniDir, id))
	if state != scratchOK {
		e.t.Fatalf("record of %s: state %d, %v", id, state, err)
	}
	return ds
}

func (e *testEnv) hasRecord(id string) bool {
	_, err := os.Stat(filepath.Join(e.cniDir, id))
	return err == nil
}

// marks is the record in short form: "name:released", "name:failed(n)",
// "name:attached", with (rollback) and (hotplug) where they apply.
func marks(ds []*netconf.Delegate) []string {
	var out []string
	for _, d := range ds {
		s := d.Name + ":attached"
		switch {
		case d.Released:
			s = d.Name + ":released"
		case d.DelFailure != nil:
			s = d.Name + ":failed"
			if d.DelFailure.Rollback {
				s += "(rollback)"
			}
		}
		if d.Hotplug {
			s += "(hotplug)"
		}
		out = append(out, s)
	}
	return out
}

func TestFailedDelKeepsRecord(t *testing.T) {
	forVersions(t, func(t *testing.T, v string) {
		e := newEnv(t, v, clusterNet, net1, net2)
		var notified []string
		e.a.opts.OnPendingDelete = func(id string) { notified = append(notified, id) }
		if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err != nil {
			t.Fatal(err)
		}
		e.exec.fail["DEL net-a"] = cnitypes.NewError(11, "ipam busy", "")
		if err := e.a.Del(context.Background(), e.req("DEL", "c1")); Code(err) != 11 {
			t.Fatalf("DEL err = %v", err)
		}
		want := []string{"cluster:released", "ns/net-a:failed", "ns/net-b:released"}
		ds := e.record("c1")
		if got := marks(ds); !reflect.DeepEqual(got, want) {
			t.Errorf("record = %q, want %q", got, want)
		}
		if f := ds[1].DelFailure; f.Attempts != 1 || !strings.Contains(f.Error, "ipam busy") || f.Since.IsZero() {
			t.Errorf("failure mark = %+v", f)
		}
		if !reflect.DeepEqual(notified, []string{"c1"}) {
			t.Errorf("retrier told %q", notified)
		}
		if sbs, _ := e.a.Sandboxes(); len(sbs) != 1 || !sbs[0].Pending || sbs[0].Pod.UID != "uid-1" || sbs[0].Netns != "/var/run/netns/c1" {
			t.Errorf("sandboxes = %+v", sbs)
		}
		// The runtime's (or the retrier's) next DEL runs only what failed.
		delete(e.exec.fail, "DEL net-a")
		e.exec.reset()
		if err := e.a.Del(context.Background(), e.req("DEL", "c1")); err != nil {
			t.Fatal(err)
		}
		if got := e.exec.callStrings(); !reflect.DeepEqual(got, []string{"DEL net-a net1"}) {
			t.Errorf("second DEL calls = %q", got)
		}
		if e.hasRecord("c1") {
			t.Error("record kept after every delegate was released")
		}
	})
}

func TestFailedRollbackKeepsRecord(t *testing.T) {
	e := newEnv(t, "1.0.0", clusterNet, net1, net2)
	e.exec.fail["ADD net-a"] = cnitypes.NewError(11, "no free IP", "")
	e.exec.fail["DEL cluster"] = cnitypes.NewError(11, "bridge busy", "")
	if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); Code(err) != 11 {
		t.Fatalf("ADD err = %v", err)
	}
	// net-b never ran: nothing to release; net-a's partial work was released.
	want := []string{"cluster:failed(rollback)", "ns/net-a:released", "ns/net-b:released"}
	if got := marks(e.record("c1")); !reflect.DeepEqual(got, want) {
		t.Errorf("record = %q, want %q", got, want)
	}
	// A retried ADD while the rollback's DEL is pending: refused, kept.
	delete(e.exec.fail, "ADD net-a")
	if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); Code(err) != cnitypes.ErrTryAgainLater {
		t.Fatalf("ADD during a pending DEL: err = %v", err)
	}
	if got := marks(e.record("c1")); !reflect.DeepEqual(got, want) {
		t.Errorf("record after the refused ADD = %q", got)
	}
}

func TestRepeatedAdd(t *testing.T) {
	cases := []struct {
		name     string
		change   func(e *testEnv, r *Request)
		wantCode uint
		wantErr  string
	}{
		{name: "same config and ifname: the first result"},
		{
			name:     "other ifname: refused",
			change:   func(_ *testEnv, r *Request) { r.IfName = "eth9" },
			wantCode: cnitypes.ErrInvalidEnvironmentVariables,
			wantErr:  "was on eth0, now eth9",
		},
		{
			name: "other networks: refused",
			change: func(e *testEnv, _ *Request) {
				e.resolver.build = func(*corev1.Pod) []*netconf.Delegate { return e.delegates([]netSpec{clusterNet}) }
			},
			wantCode: cnitypes.ErrInvalidEnvironmentVariables,
			wantErr:  "3 networks recorded, 1 requested",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forVersions(t, func(t *testing.T, v string) {
				e := newEnv(t, v, clusterNet, net1, net2)
				first, err := e.a.Add(context.Background(), e.req("ADD", "c1"))
				if err != nil {
					t.Fatal(err)
				}
				before, _ := os.ReadFile(filepath.Join(e.cniDir, "c1"))
				// The interfaces exist now: a second delegate ADD would fail.
				e.net.links = map[string]bool{"eth0": true, "net1": true, "data0": true}
				e.exec.reset()
				r := e.req("ADD", "c1")
				if tc.change != nil {
					tc.change(e, r)
				}
				again, err := e.a.Add(context.Background(), r)
				if got := e.exec.callStrings(); len(got) != 0 {
					t.Errorf("delegates called on a repeated ADD: %q", got)
				}
				after, _ := os.ReadFile(filepath.Join(e.cniDir, "c1"))
				if string(before) != string(after) {
					t.Errorf("record changed:\n%s\n%s", before, after)
				}
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) || Code(err) != tc.wantCode {
						t.Fatalf("err = %v (code %d), want %q code %d", err, Code(err), tc.wantErr, tc.wantCode)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				a, _ := json.Marshal(first)
				b, _ := json.Marshal(again)
				if string(a) != string(b) {
					t.Errorf("result\n%s\nwant the first\n%s", b, a)
				}
			})
		})
	}
}

func TestCorruptRecordRefusesAdd(t *testing.T) {
	e := newEnv(t, "1.0.0", clusterNet)
	writeFile(t, filepath.Join(e.cniDir, "c1"), `[{"Conf":`)
	if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err == nil || !strings.Contains(err.Error(), "DEL the container first") {
		t.Fatalf("err = %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(e.cniDir, "c1")); string(data) != `[{"Conf":` {
		t.Errorf("corrupt record touched: %s", data)
	}
	if got := e.exec.callStrings(); len(got) != 0 {
		t.Errorf("calls = %q", got)
	}
}

func TestHotplugIsRecordedAndReleasedByPodDel(t *testing.T) {
	forVersions(t, func(t *testing.T, v string) {
		e := newEnv(t, v, clusterNet, net1)
		if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err != nil {
			t.Fatal(err)
		}
		hot := func(ifname string) *Request {
			cfg := `{"cniVersion":"` + v + `","name":"hot","type":"macvlan","capabilities":{"ips":true}}`
			return &Request{Command: "ADD", ContainerID: "c1", Netns: "/var/run/netns/c1", IfName: ifname,
				Pod: PodRef{Namespace: "ns", Name: "pod"}, Config: []byte(cfg), Logger: discardLogger()}
		}
		attrs := &api.InterfaceAttributes{IPRequest: []string{"10.3.0.9/24"}}
		for _, ifname := range []string{"net5", "net6"} {
			if _, err := e.a.DelegateAdd(context.Background(), hot(ifname), attrs); err != nil {
				t.Fatal(err)
			}
		}
		want := []string{"cluster:attached", "ns/net-a:attached", "hot:attached(hotplug)", "hot:attached(hotplug)"}
		if got := marks(e.record("c1")); !reflect.DeepEqual(got, want) {
			t.Fatalf("record = %q, want %q", got, want)
		}
		// /delegate DEL of net6 takes it out of the record, with the ips
		// of its ADD (the DEL request carries none).
		e.exec.reset()
		if err := e.a.DelegateDel(context.Background(), hot("net6"), nil); err != nil {
			t.Fatal(err)
		}
		call, _ := e.exec.find("DEL", "hot")
		if rc, _ := json.Marshal(call.Stdin["runtimeConfig"]); call.IfName != "net6" || string(rc) != `{"ips":["10.3.0.9/24"]}` {
			t.Errorf("hot-plug DEL: ifname %s runtimeConfig %s", call.IfName, rc)
		}
		if got := marks(e.record("c1")); !reflect.DeepEqual(got, want[:3]) {
			t.Fatalf("record after /delegate DEL = %q", got)
		}
		// A second hot-plug on an interface already recorded: refused.
		if _, err := e.a.DelegateAdd(context.Background(), hot("net5"), nil); Code(err) != cnitypes.ErrInvalidNetworkConfig {
			t.Errorf("hot-plug on a recorded ifname: %v", err)
		}
		// The pod's DEL releases the remaining hot-plug too.
		e.exec.reset()
		if err := e.a.Del(context.Background(), e.req("DEL", "c1")); err != nil {
			t.Fatal(err)
		}
		wantDel := []string{"DEL hot net5", "DEL net-a net1", "DEL cluster eth0"}
		if got := e.exec.callStrings(); !reflect.DeepEqual(got, wantDel) {
			t.Errorf("pod DEL calls = %q, want %q", got, wantDel)
		}
		if e.hasRecord("c1") {
			t.Error("record kept")
		}
	})
}

func TestHotplugFailedRollbackStaysRecorded(t *testing.T) {
	e := newEnv(t, "1.0.0", clusterNet)
	if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err != nil {
		t.Fatal(err)
	}
	e.exec.fail["ADD hot"] = cnitypes.NewError(11, "nope", "")
	e.exec.fail["DEL hot"] = cnitypes.NewError(11, "still nope", "")
	req := &Request{ContainerID: "c1", Netns: "/x", IfName: "net5", Pod: PodRef{Namespace: "ns", Name: "pod"},
		Config: []byte(`{"cniVersion":"1.0.0","name":"hot","type":"macvlan"}`), Logger: discardLogger()}
	if _, err := e.a.DelegateAdd(context.Background(), req, nil); Code(err) != 11 {
		t.Fatalf("err = %v", err)
	}
	want := []string{"cluster:attached", "hot:failed(rollback)(hotplug)"}
	if got := marks(e.record("c1")); !reflect.DeepEqual(got, want) {
		t.Errorf("record = %q, want %q", got, want)
	}
	// A rollback that succeeds leaves no trace in the record.
	delete(e.exec.fail, "DEL hot")
	req.IfName = "net6"
	if _, err := e.a.DelegateAdd(context.Background(), req, nil); Code(err) != 11 {
		t.Fatalf("err = %v", err)
	}
	if got := marks(e.record("c1")); !reflect.DeepEqual(got, want) {
		t.Errorf("record = %q, want %q", got, want)
	}
}

// The runtime sends portMappings for the cluster network only; a
// secondary network's own hostPorts must reach portmap at DEL too, or its
// DNAT rules outlive the pod.
func TestRuntimeConfigKeptForDelAndCheck(t *testing.T) {
	forVersions(t, func(t *testing.T, v string) {
		ports := []*netconf.PortMapEntry{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}
		withPorts := netSpec{name: "net-a", typ: "macvlan", conflist: true, ports: ports, ips: []string{"10.1.0.5/24"}}
		e := newEnv(t, v, clusterNet, withPorts)
		e.runtimeConfig = `{"portMappings":[{"hostPort":30000,"containerPort":53,"protocol":"udp"}]}`
		if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err != nil {
			t.Fatal(err)
		}
		addCall, _ := e.exec.find("ADD", "net-a")
		e.exec.reset()
		e.runtimeConfig = "" // the DEL request carries nothing
		for _, cmd := range []string{"CHECK", "DEL"} {
			var err error
			if cmd == "CHECK" {
				err = e.a.Check(context.Background(), e.req(cmd, "c1"))
			} else {
				err = e.a.Del(context.Background(), e.req(cmd, "c1"))
			}
			if err != nil {
				t.Fatalf("%s: %v", cmd, err)
			}
			for _, name := range []string{"net-a", "cluster"} {
				call, ok := e.exec.find(cmd, name)
				if !ok {
					if cmd == "CHECK" && v == "0.3.1" {
						continue // CHECK predates 0.4.0
					}
					t.Fatalf("no %s of %s", cmd, name)
				}
				want, _ := json.Marshal(addCall.Stdin["runtimeConfig"])
				if name == "cluster" {
					want = []byte(`{"portMappings":[{"containerPort":53,"hostPort":30000,"protocol":"udp"}]}`)
				}
				if got, _ := json.Marshal(call.Stdin["runtimeConfig"]); string(got) != string(want) {
					t.Errorf("%s %s runtimeConfig = %s, want %s", cmd, name, got, want)
				}
			}
		}
	})
}

// Our record keeps upstream's keys: a decoder that knows only those reads
// it, and the added keys decode back.
func TestRecordStaysUpstreamReadable(t *testing.T) {
	e := newEnv(t, "0.3.1", clusterNet, net1)
	if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(e.cniDir, "c1"))
	var upstream []struct {
		Conf          map[string]any `json:"Conf"`
		Name          string         `json:"Name"`
		IfnameRequest string         `json:"ifnameRequest"`
		Bytes         []byte         `json:"Bytes"`
	}
	if err := json.Unmarshal(data, &upstream); err != nil || len(upstream) != 2 || upstream[1].Name != "ns/net-a" || len(upstream[0].Bytes) == 0 {
		t.Fatalf("upstream-shaped decode: %v %+v", err, upstream)
	}
	ds := e.record("c1")
	if ds[1].Runtime == nil || ds[1].Runtime.IfName != "net1" || ds[1].Runtime.NetNS != "/var/run/netns/c1" {
		t.Errorf("runtime record = %+v", ds[1].Runtime)
	}
}

// A DEL is on disk before any delegate runs: if the daemon dies in the
// middle, the next daemon's retrier finds every unreleased delegate pending.
func TestDelIsDurableBeforeItRuns(t *testing.T) {
	e := newEnv(t, "1.0.0", clusterNet, net1, net2)
	if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err != nil {
		t.Fatal(err)
	}
	var during []string
	e.exec.hook = func(_ context.Context, c execCall) {
		if c.Command == "DEL" && c.Name == "net-a" {
			during = marks(e.record("c1"))
		}
	}
	if err := e.a.Del(context.Background(), e.req("DEL", "c1")); err != nil {
		t.Fatal(err)
	}
	// net-b (DELed first, in reverse) is not yet written as released: the
	// marks are written once before and once after the delegates run.
	want := []string{"cluster:failed", "ns/net-a:failed", "ns/net-b:failed"}
	if !reflect.DeepEqual(during, want) {
		t.Errorf("record during DEL = %q, want %q", during, want)
	}
	if e.hasRecord("c1") {
		t.Error("record kept after a successful DEL")
	}
}
