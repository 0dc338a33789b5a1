//go:build integration

package integration

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/kube"
	"github.com/multus-thick/multus-thick/src/internal/resolve"
)

// requestCounter is a kube.RequestObserver that keeps the counts.
type requestCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *requestCounter) APIRequest(verb, resource string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[verb+" "+resource]++
}

func (c *requestCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// since is what was counted after before, without zero entries and
// without the informers' list and watch requests: a watch the API server
// ends (after 5 to 10 minutes) is restarted in the background, whatever
// the daemon is doing.
func (c *requestCounter) since(before map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range c.snapshot() {
		if strings.HasPrefix(k, "watch ") || strings.HasPrefix(k, "list ") {
			continue
		}
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// TestRequestsPerAddDel pins what one ADD and one DEL of a pod with one
// macvlan attachment cost the API server, by verb and resource, counted
// by the daemon's own transport, in each addedInterfaceEvents mode: the
// pod comes from the node's informer, the network-status is one patch of
// pods/status, and each AddedInterface event is one create (sent by the
// recorder after the ADD returned): two per ADD per interface (cluster
// network and attachment), one per pod, none. A DEL of a cached pod sends
// nothing.
func TestRequestsPerAddDel(t *testing.T) {
	cases := []struct {
		mode       kube.EventsMode
		wantEvents int
	}{
		{kube.EventsPerInterface, 2},
		{kube.EventsPerPod, 1},
		{kube.EventsNone, 0},
	}
	for _, tc := range cases {
		t.Run(string(tc.mode), func(t *testing.T) {
			ns := freshNamespace(t)
			node := "node-requests-" + strings.ToLower(string(tc.mode))
			createNAD(t, ns, "macvlan", macvlanConf)
			pod := createPod(t, newPod(ns, "p", node, map[string]string{
				"k8s.v1.cni.cncf.io/networks": "macvlan",
			}))
			var counter requestCounter
			d := startDaemon(t, suite.daemonKC, kube.Config{NodeName: node, Requests: &counter,
				PodLookupTimeout: 30 * time.Second, Events: tc.mode})
			ctx := context.Background()
			ref := attach.PodRef{Namespace: ns, Name: "p", UID: string(pod.UID)}
			if started := counter.snapshot(); started["list pods"] != 1 || started["watch pods"] < 1 ||
				started["list network-attachment-definitions"] != 1 {
				t.Errorf("start-up requests = %v, want one list and a watch each of pods and network-attachment-definitions", started)
			}

			before := counter.snapshot()
			ds, err := d.add(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			cached, err := d.client.Pods().GetPod(ctx, ref, attach.OpAdd)
			if err != nil {
				t.Fatal(err)
			}
			// As attach reports a successful ADD: each interface as its
			// delegate succeeds, then all of them once.
			var added []attach.AddedInterface
			for i, del := range ds {
				a := attach.AddedInterface{IfName: fmt.Sprintf("net%d", i), IPs: []string{fmt.Sprintf("10.9.0.%d/24", i+1)}, Network: del.Name}
				d.client.Events().AddedInterface(cached, a.IfName, a.IPs, a.Network)
				added = append(added, a)
			}
			d.client.Events().AddedInterfaces(cached, added)
			// The recorder sends in order: once a later event is stored,
			// every AddedInterface event the ADD caused has been sent.
			d.client.Events().(resolve.Warner).Warning(cached, "TestFence", "after the ADD's events")
			waitEvents(t, ns, "TestFence", 1)
			if got := countEvents(t, ns, kube.ReasonAddedInterface); got != tc.wantEvents {
				t.Errorf("%d AddedInterface events, want %d", got, tc.wantEvents)
			}
			want := map[string]int{"patch pods/status": 1, "create events": tc.wantEvents + 1}
			if got := counter.since(before); !maps.Equal(got, want) {
				t.Errorf("requests per ADD and the fence event = %v, want %v (ADD alone: %d)", got, want, tc.wantEvents+1)
			}

			before = counter.snapshot()
			if _, err := d.client.Pods().GetPod(ctx, ref, attach.OpDel); err != nil {
				t.Fatal(err)
			}
			if got := counter.since(before); len(got) != 0 {
				t.Errorf("requests per DEL = %v, want none", got)
			}
		})
	}
}

// countEvents is the number of ns's events with reason.
func countEvents(t *testing.T, ns, reason string) int {
	t.Helper()
	list, err := suite.admin.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range list.Items {
		if e.Reason == reason {
			n++
		}
	}
	return n
}

// waitEvents waits until ns has n events with reason.
func waitEvents(t *testing.T, ns, reason string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err := suite.admin.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, e := range list.Items {
			if e.Reason == reason {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s events in %s after 30s, want %d", got, reason, ns, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
