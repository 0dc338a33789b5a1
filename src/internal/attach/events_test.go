package attach

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// TestAddedInterfacesOncePerADD: a successful ADD reports every
// interface once more, together and in order, after the per-interface
// events; a failed ADD and a failed status write report nothing together.
func TestAddedInterfacesOncePerADD(t *testing.T) {
	cases := []struct {
		name  string
		nets  []netSpec
		setup func(e *testEnv)
		// want is the AddedInterfaces calls, each "ifname [ips] network".
		want [][]string
	}{
		{
			name: "two interfaces: one call listing both",
			nets: []netSpec{clusterNet, net1},
			want: [][]string{{"eth0 [10.170.0.2/24] cluster", "net1 [10.169.0.2/24] ns/net-a"}},
		},
		{
			name:  "status write fails: nothing",
			nets:  []netSpec{clusterNet, net1},
			setup: func(e *testEnv) { e.status.err = errors.New("apiserver down") },
		},
		{
			name:  "second delegate fails: nothing",
			nets:  []netSpec{clusterNet, net1},
			setup: func(e *testEnv) { e.exec.fail["ADD net-a"] = errors.New("boom") },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "1.0.0", tc.nets...)
			if tc.setup != nil {
				tc.setup(e)
			}
			_, err := e.a.Add(context.Background(), e.req("ADD", "c1"))
			if (err == nil) != (tc.want != nil) {
				t.Fatalf("Add: err = %v", err)
			}
			if !reflect.DeepEqual(e.events.perPod, tc.want) {
				t.Errorf("AddedInterfaces calls = %q, want %q", e.events.perPod, tc.want)
			}
			if tc.want != nil && !reflect.DeepEqual(e.events.perPod[0], e.events.added) {
				t.Errorf("AddedInterfaces %q differs from the AddedInterface events %q", e.events.perPod[0], e.events.added)
			}
		})
	}
}

// TestAddedInterfacesHotplug: a /delegate ADD reports its one interface.
func TestAddedInterfacesHotplug(t *testing.T) {
	e := newEnv(t, "1.0.0", clusterNet)
	cfg := []byte(`{"cniVersion":"1.0.0","name":"hot","type":"macvlan"}`)
	req := &Request{Command: "ADD", ContainerID: "c1", Netns: "/var/run/netns/c1", IfName: "net5",
		Pod: PodRef{Namespace: "ns", Name: "pod"}, Config: cfg, Logger: discardLogger()}
	if _, err := e.a.DelegateAdd(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	if len(e.events.perPod) != 1 || len(e.events.perPod[0]) != 1 || !reflect.DeepEqual(e.events.perPod[0], e.events.added) {
		t.Errorf("AddedInterfaces calls = %q, want one with the AddedInterface event %q", e.events.perPod, e.events.added)
	}
}
