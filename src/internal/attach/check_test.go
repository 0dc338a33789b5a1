package attach

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	cnitypes "github.com/containernetworking/cni/pkg/types"
	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"

	"github.com/multus-thick/multus-thick/src/api"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		name      string
		add       bool
		setup     func(e *testEnv)
		wantCalls func(v string) []string
		wantErr   string
	}{
		{
			name: "every delegate from the cache is checked in order",
			add:  true,
			wantCalls: func(v string) []string {
				if v == "0.3.1" { // CHECK does not exist before 0.4.0
					return nil
				}
				return []string{"CHECK cluster eth0", "CHECK net-a net1", "CHECK net-b data0"}
			},
		},
		{
			name:      "no cache: error naming the container",
			wantCalls: func(string) []string { return nil },
			wantErr:   "container c1 has no delegate cache",
		},
		{
			name: "delegate CHECK failure is returned",
			add:  true,
			setup: func(e *testEnv) {
				e.exec.fail["CHECK net-a"] = cnitypes.NewError(cnitypes.ErrInternal, "link gone", "")
			},
			wantCalls: func(v string) []string {
				if v == "0.3.1" {
					return nil
				}
				return []string{"CHECK cluster eth0", "CHECK net-a net1"}
			},
			wantErr: "link gone",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forVersions(t, func(t *testing.T, v string) {
				e := newEnv(t, v, clusterNet, net1, net2)
				if tc.add {
					if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err != nil {
						t.Fatal(err)
					}
				}
				e.exec.reset()
				if tc.setup != nil {
					tc.setup(e)
				}
				err := e.a.Check(context.Background(), e.req("CHECK", "c1"))
				if got, want := e.exec.callStrings(), tc.wantCalls(v); !reflect.DeepEqual(got, want) {
					t.Errorf("calls = %q, want %q", got, want)
				}
				wantErr := tc.wantErr
				if v == "0.3.1" && tc.add {
					wantErr = ""
				}
				if wantErr == "" && err != nil {
					t.Fatalf("Check: %v", err)
				}
				if wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
					t.Fatalf("err = %v, want %q", err, wantErr)
				}
			})
		})
	}
}

func TestStatus(t *testing.T) {
	forVersions(t, func(t *testing.T, v string) {
		e := newEnv(t, v, netSpec{name: "cluster", typ: "bridge", master: true, conflist: true}, net1)
		err := e.a.Status(context.Background(), &Request{Command: "STATUS", Config: e.multusConfig(), Logger: discardLogger()})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		if v == "1.1.0" {
			want = []string{"STATUS cluster"}
		}
		if got := e.exec.callStrings(); !reflect.DeepEqual(got, want) {
			t.Errorf("calls = %q, want %q", got, want)
		}
	})
	t.Run("plugin error code preserved", func(t *testing.T) {
		e := newEnv(t, "1.1.0", clusterNet)
		e.exec.fail["STATUS cluster"] = cnitypes.NewError(cnitypes.ErrPluginNotAvailable, "not ready", "")
		err := e.a.Status(context.Background(), &Request{Command: "STATUS", Config: e.multusConfig(), Logger: discardLogger()})
		var cerr *cnitypes.Error
		if !errors.As(err, &cerr) || cerr.Code != cnitypes.ErrPluginNotAvailable || Code(err) != 50 {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestGC(t *testing.T) {
	forVersions(t, func(t *testing.T, v string) {
		e := newEnv(t, v, clusterNet, net1)
		for _, id := range []string{"live", "stale"} {
			if _, err := e.a.Add(context.Background(), e.req("ADD", id)); err != nil {
				t.Fatal(err)
			}
		}
		writeFile(t, filepath.Join(e.cniDir, "orphan"), "[]") // scratch cache without attachments
		e.exec.reset()
		e.multusExtra = map[string]any{"cni.dev/valid-attachments": []cnitypes.GCAttachment{{ContainerID: "live", IfName: "eth0"}}}
		if err := e.a.GC(context.Background(), &Request{Command: "GC", Config: e.multusConfig(), Logger: discardLogger()}); err != nil {
			t.Fatal(err)
		}
		want := []string{"DEL cluster eth0", "DEL net-a net1"}
		if v == "1.1.0" {
			want = append(want, "GC cluster", "GC net-a")
		}
		if got := e.exec.callStrings(); !reflect.DeepEqual(got, want) {
			t.Errorf("calls = %q, want %q", got, want)
		}
		for _, c := range e.exec.calls {
			if c.Command == "DEL" && c.ContainerID != "stale" {
				t.Errorf("DEL of a valid container: %+v", c)
			}
			if c.Command == "GC" {
				raw, _ := json.Marshal(c.Stdin["cni.dev/valid-attachments"])
				wantValid := `[{"containerID":"live","ifname":"eth0"}]`
				if c.Name == "net-a" {
					wantValid = `[{"containerID":"live","ifname":"net1"}]`
				}
				if string(raw) != wantValid {
					t.Errorf("GC %s valid attachments = %s, want %s", c.Name, raw, wantValid)
				}
			}
		}
		for id, want := range map[string]bool{"live": true, "stale": false, "orphan": false} {
			if _, err := os.Stat(filepath.Join(e.cniDir, id)); (err == nil) != want {
				t.Errorf("scratch cache %s present = %v, want %v", id, err == nil, want)
			}
		}
		left, _ := os.ReadDir(filepath.Join(e.cniDir, "results"))
		if len(left) != 2 {
			t.Errorf("result cache entries left = %d, want the 2 of the live container", len(left))
		}
	})
	t.Run("no results dir: nothing to do", func(t *testing.T) {
		e := newEnv(t, "1.0.0", clusterNet)
		e.multusExtra = map[string]any{"cni.dev/valid-attachments": []cnitypes.GCAttachment{}}
		if err := e.a.GC(context.Background(), &Request{Config: e.multusConfig(), Logger: discardLogger()}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no valid-attachments key: refused, nothing deleted", func(t *testing.T) {
		e := newEnv(t, "1.1.0", clusterNet)
		if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err != nil {
			t.Fatal(err)
		}
		e.exec.reset()
		err := e.a.GC(context.Background(), &Request{Config: e.multusConfig(), Logger: discardLogger()})
		if Code(err) != cnitypes.ErrInvalidNetworkConfig || len(e.exec.callStrings()) != 0 {
			t.Fatalf("err = %v, calls %v", err, e.exec.callStrings())
		}
	})
}

func TestDelegateHotplug(t *testing.T) {
	forVersions(t, func(t *testing.T, v string) {
		e := newEnv(t, v, clusterNet)
		e.status.current = []nadv1.NetworkStatus{{Name: "cluster", Interface: "eth0", Default: true}, {Name: "old", Interface: "net5"}}
		cfg := []byte(`{"cniVersion":"` + v + `","name":"hot","type":"macvlan","capabilities":{"ips":true,"mac":true}}`)
		req := &Request{Command: "ADD", ContainerID: "c1", Netns: "/var/run/netns/c1", IfName: "net5", Pod: PodRef{Namespace: "ns", Name: "pod"}, Config: cfg, Logger: discardLogger()}
		args := map[string]any{"foo": "bar"}
		attrs := &api.InterfaceAttributes{IPRequest: []string{"10.3.0.9/24"}, MacRequest: "02:00:00:00:00:09", CNIArgs: &args}
		if _, err := e.a.DelegateAdd(context.Background(), req, attrs); err != nil {
			t.Fatal(err)
		}
		call, _ := e.exec.find("ADD", "hot")
		if call.IfName != "net5" || !strings.Contains(call.Args, "IP=10.3.0.9/24") {
			t.Errorf("ADD call %+v", call)
		}
		if rc, _ := json.Marshal(call.Stdin["runtimeConfig"]); string(rc) != `{"ips":["10.3.0.9/24"],"mac":"02:00:00:00:00:09"}` {
			t.Errorf("runtimeConfig = %s", rc)
		}
		if a, _ := json.Marshal(call.Stdin["args"]); string(a) != `{"cni":{"foo":"bar"}}` {
			t.Errorf("args = %s", a)
		}
		if got := statusIfaces(e.status.current); got != "eth0,net5" || e.status.current[1].Name != "hot" {
			t.Errorf("statuses after ADD = %+v", e.status.current)
		}
		if _, err := os.Stat(filepath.Join(e.cniDir, "c1")); err == nil {
			t.Error("/delegate into a container without a record must not create one")
		}
		req.Command = "DEL"
		if err := e.a.DelegateDel(context.Background(), req, attrs); err != nil {
			t.Fatal(err)
		}
		if got := statusIfaces(e.status.current); got != "eth0" {
			t.Errorf("statuses after DEL = %q", got)
		}
	})
	t.Run("pod not found is an error", func(t *testing.T) {
		e := newEnv(t, "1.0.0", clusterNet)
		e.pods.pod, e.pods.err = nil, ErrPodNotFound
		req := &Request{ContainerID: "c1", Netns: "/x", IfName: "net5", Pod: PodRef{Namespace: "ns", Name: "pod"},
			Config: []byte(`{"cniVersion":"1.0.0","name":"hot","type":"macvlan"}`), Logger: discardLogger()}
		if _, err := e.a.DelegateAdd(context.Background(), req, nil); !errors.Is(err, ErrPodNotFound) {
			t.Fatalf("err = %v", err)
		}
		if len(e.exec.callStrings()) != 0 {
			t.Errorf("calls = %v", e.exec.callStrings())
		}
	})
	t.Run("failed ADD is rolled back", func(t *testing.T) {
		e := newEnv(t, "1.0.0", clusterNet)
		e.exec.fail["ADD hot"] = cnitypes.NewError(11, "nope", "")
		req := &Request{ContainerID: "c1", Netns: "/x", IfName: "net5", Pod: PodRef{Namespace: "ns", Name: "pod"},
			Config: []byte(`{"cniVersion":"1.0.0","name":"hot","type":"macvlan"}`), Logger: discardLogger()}
		if _, err := e.a.DelegateAdd(context.Background(), req, nil); Code(err) != 11 {
			t.Fatalf("err = %v", err)
		}
		if got := e.exec.callStrings(); !reflect.DeepEqual(got, []string{"ADD hot net5", "DEL hot net5"}) {
			t.Errorf("calls = %q", got)
		}
	})
}

func statusIfaces(list []nadv1.NetworkStatus) string {
	var out []string
	for _, s := range list {
		out = append(out, s.Interface)
	}
	return strings.Join(out, ",")
}

func TestSameContainerIsSerialized(t *testing.T) {
	e := newEnv(t, "1.0.0", clusterNet)
	unlock, err := e.a.lock(context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	// Another container proceeds while c1 is held.
	if _, err := e.a.Add(context.Background(), e.req("ADD", "c2")); err != nil {
		t.Fatalf("other container blocked: %v", err)
	}
	// c1 waits for the holder; with an expired context it gives up
	// without having run anything.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.a.Add(ctx, e.req("ADD", "c1")); !errors.Is(err, context.Canceled) {
		t.Fatalf("ADD on a held container: %v", err)
	}
	if err := e.a.Del(ctx, e.req("DEL", "c1")); !errors.Is(err, context.Canceled) {
		t.Fatalf("DEL on a held container: %v", err)
	}
	if _, err := e.a.DelegateAdd(ctx, &Request{ContainerID: "c1", IfName: "net9", Config: []byte(`{"cniVersion":"1.0.0","name":"x","type":"y"}`), Logger: discardLogger()}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("/delegate ADD on a held container: %v", err)
	}
	for _, c := range e.exec.calls {
		if c.ContainerID == "c1" {
			t.Fatalf("c1 ran a delegate while locked: %+v", c)
		}
	}
	unlock()
	if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err != nil {
		t.Fatal(err)
	}
	if n := e.a.locks.size(); n != 0 {
		t.Errorf("%d lock entries leaked", n)
	}
}

func TestKeyedMutexExcludes(t *testing.T) {
	var k keyedMutex
	var inside, maxInside int
	done := make(chan struct{})
	const n = 8
	for i := 0; i < n; i++ {
		go func() {
			unlock, err := k.lock(context.Background(), "k")
			if err != nil {
				t.Error(err)
			}
			inside++ // a data race here (go test -race) means no exclusion
			if inside > maxInside {
				maxInside = inside
			}
			inside--
			unlock()
			done <- struct{}{}
		}()
	}
	for i := 0; i < n; i++ {
		<-done
	}
	if maxInside != 1 || k.size() != 0 {
		t.Fatalf("max inside = %d, entries = %d", maxInside, k.size())
	}
}
