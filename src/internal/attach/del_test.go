package attach

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	cnitypes "github.com/containernetworking/cni/pkg/types"
	corev1 "k8s.io/api/core/v1"

	"github.com/multus-thick/multus-thick/fixtures"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

func TestDel(t *testing.T) {
	cases := []struct {
		name string
		// add runs an ADD first (the cache then exists).
		add       bool
		setup     func(e *testEnv)
		wantCalls []string
		wantErr   string
		wantCode  uint
		// wantCache: the scratch cache file still exists afterwards.
		wantCache    bool
		wantCorrupt  bool
		wantResolver int
	}{
		{
			name:      "cache from ADD: DEL in reverse, cache removed",
			add:       true,
			wantCalls: []string{"DEL net-b data0", "DEL net-a net1", "DEL cluster eth0"},
		},
		{
			name:      "no cache and no Kubernetes: success without delegates",
			setup:     func(e *testEnv) { e.a.opts.Pods = nil },
			wantCalls: nil,
		},
		{
			name:      "no cache and pod gone: success without delegates (no DEL storm)",
			setup:     func(e *testEnv) { e.pods.pod, e.pods.err = nil, ErrPodNotFound },
			wantCalls: nil,
		},
		{
			name:         "no cache, pod known: rebuilt from the resolver",
			wantCalls:    []string{"DEL net-b data0", "DEL net-a net1", "DEL cluster eth0"},
			wantResolver: 1,
		},
		{
			// The fake resolves the same list without a pod; what matters is
			// the second, pod-less resolution and a successful DEL.
			name:         "no cache, the pod's networks no longer resolve: the pod-less list is deleted",
			setup:        func(e *testEnv) { e.resolver.podErr = errors.New("namespace isolation violation") },
			wantCalls:    []string{"DEL net-b data0", "DEL net-a net1", "DEL cluster eth0"},
			wantResolver: 2,
		},
		{
			// The pod's list breaks ADD's rules (its ADD failed on them):
			// attach, not the resolver, judges it, and DEL falls back.
			name: "no cache, the pod's networks share an interface name: the pod-less list is deleted",
			setup: func(e *testEnv) {
				e.resolver.build = func(pod *corev1.Pod) []*netconf.Delegate {
					if pod == nil {
						return e.delegates([]netSpec{clusterNet})
					}
					return e.delegates([]netSpec{clusterNet, {name: "net-a", typ: "macvlan", ifname: "x1"}, {name: "net-b", typ: "macvlan", ifname: "x1"}})
				}
			},
			wantCalls:    []string{"DEL cluster eth0"},
			wantResolver: 2,
		},
		{
			name:         "no cache and nothing resolves: success, nothing deleted",
			setup:        func(e *testEnv) { e.resolver.err = errors.New("clusterNetwork file gone") },
			wantCalls:    nil,
			wantResolver: 2, // with the pod, then without it
		},
		{
			name:     "no cache, pod lookup fails: try again later",
			setup:    func(e *testEnv) { e.pods.pod, e.pods.err = nil, errors.New("connection refused") },
			wantErr:  "connection refused",
			wantCode: cnitypes.ErrTryAgainLater,
		},
		{
			name: "corrupt cache: moved aside, reported, rebuilt from the resolver",
			setup: func(e *testEnv) {
				writeFile(e.t, filepath.Join(e.cniDir, "c1"), `[{"Conf":`)
			},
			wantCalls:    []string{"DEL net-b data0", "DEL net-a net1", "DEL cluster eth0"},
			wantCorrupt:  true,
			wantResolver: 1,
		},
		{
			name: "corrupt cache and pod gone: cluster networks still deleted",
			setup: func(e *testEnv) {
				writeFile(e.t, filepath.Join(e.cniDir, "c1"), `not json`)
				e.pods.pod, e.pods.err = nil, ErrPodNotFound
			},
			wantCalls:    []string{"DEL net-b data0", "DEL net-a net1", "DEL cluster eth0"},
			wantCorrupt:  true,
			wantResolver: 1,
		},
		{
			name: "all DEL errors collected, cache kept for the retry",
			add:  true,
			setup: func(e *testEnv) {
				e.exec.fail["DEL net-a"] = cnitypes.NewError(11, "ipam busy", "")
				e.exec.fail["DEL cluster"] = cnitypes.NewError(11, "bridge busy", "")
			},
			wantCalls: []string{"DEL net-b data0", "DEL net-a net1", "DEL cluster eth0"},
			wantErr:   "ipam busy",
			wantCode:  11,
			wantCache: true,
		},
		{
			name: "retryDeleteOnError keeps the cache when DEL fails",
			add:  true,
			setup: func(e *testEnv) {
				e.multusExtra = map[string]any{"retryDeleteOnError": true}
				e.exec.fail["DEL net-a"] = cnitypes.NewError(11, "ipam busy", "")
			},
			wantCalls: []string{"DEL net-b data0", "DEL net-a net1", "DEL cluster eth0"},
			wantErr:   "ipam busy",
			wantCode:  11,
			wantCache: true,
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
				e.resolver.calls = 0
				if tc.setup != nil {
					tc.setup(e)
				}
				err := e.a.Del(context.Background(), e.req("DEL", "c1"))
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
					t.Fatalf("Del: %v", err)
				}
				if _, err := os.Stat(filepath.Join(e.cniDir, "c1")); (err == nil) != tc.wantCache {
					t.Errorf("cache present = %v, want %v", err == nil, tc.wantCache)
				}
				_, corruptErr := os.Stat(filepath.Join(e.cniDir, "c1.corrupt"))
				if (corruptErr == nil) != tc.wantCorrupt || (len(e.observer.corrupt) == 1) != tc.wantCorrupt {
					t.Errorf("corrupt file kept = %v, observer = %v, want %v", corruptErr == nil, e.observer.corrupt, tc.wantCorrupt)
				}
				if e.resolver.calls != tc.wantResolver {
					t.Errorf("resolver calls = %d, want %d", e.resolver.calls, tc.wantResolver)
				}
			})
		})
	}
}

func TestDelCollectsEveryError(t *testing.T) {
	e := newEnv(t, "1.0.0", clusterNet, net1, net2)
	if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err != nil {
		t.Fatal(err)
	}
	e.exec.fail["DEL net-a"] = cnitypes.NewError(11, "ipam busy", "")
	e.exec.fail["DEL cluster"] = cnitypes.NewError(11, "bridge busy", "")
	err := e.a.Del(context.Background(), e.req("DEL", "c1"))
	for _, want := range []string{"name=ns/net-a ifname=net1: del: ipam busy", "name=cluster ifname=eth0: del: bridge busy"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
	}
}

func TestDelTwiceIsIdempotent(t *testing.T) {
	forVersions(t, func(t *testing.T, v string) {
		e := newEnv(t, v, clusterNet, net1)
		e.a.opts.Pods = nil
		if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if err := e.a.Del(context.Background(), e.req("DEL", "c1")); err != nil {
				t.Fatalf("DEL #%d: %v", i+1, err)
			}
		}
		if got := e.exec.callStrings("DEL"); len(got) != 2 {
			t.Errorf("delegate DELs = %q, want exactly one round", got)
		}
	})
}

// An upstream node's cache file must still DEL after an upgrade.
func TestDelUpstreamFormatCache(t *testing.T) {
	forVersions(t, func(t *testing.T, v string) {
		e := newEnv(t, v, clusterNet)
		writeFile(t, filepath.Join(e.cniDir, "c1"), string(fixtures.MustRead("cni/upstream-scratch-cache.json")))
		if err := e.a.Del(context.Background(), e.req("DEL", "c1")); err != nil {
			t.Fatal(err)
		}
		want := []string{"DEL tuned-chain net2", "DEL tuned-chain net2", "DEL macvlan-conf data1", "DEL cbr0 eth0", "DEL cbr0 eth0"}
		if got := e.exec.callStrings(); !reflect.DeepEqual(got, want) {
			t.Errorf("calls = %q\nwant    %q", got, want)
		}
		// The conflist without cniVersion got the Multus version.
		tuned, _ := e.exec.find("DEL", "tuned-chain")
		if tuned.Stdin["cniVersion"] != v {
			t.Errorf("tuned-chain cniVersion = %v, want %s", tuned.Stdin["cniVersion"], v)
		}
		// Plugin-specific keys survive the round trip through Bytes.
		flannel, ok := e.exec.findType("DEL", "flannel")
		if _, hasDelegate := flannel.Stdin["delegate"]; !ok || !hasDelegate {
			t.Errorf("flannel DEL stdin lost fields: %v", flannel.Stdin)
		}
		mac, _ := e.exec.find("DEL", "macvlan-conf")
		if mac.Stdin["master"] != "eth1" || !strings.Contains(mac.Args, "MAC=02:00:00:00:10:05") || !strings.Contains(mac.Args, "IP=10.10.0.5/24") {
			t.Errorf("macvlan DEL: stdin %v args %q", mac.Stdin, mac.Args)
		}
		if _, err := os.Stat(filepath.Join(e.cniDir, "c1")); err == nil {
			t.Error("cache file not removed")
		}
	})
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
