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
// by the daemon's own transport: the pod comes from the node's informer,
// the network-status is one patch of pods/status, and the two
// AddedInterface events are one create each (sent by the recorder after
// the ADD returned). A DEL of a cached pod sends nothing.
func TestRequestsPerAddDel(t *testing.T) {
	ns := freshNamespace(t)
	createNAD(t, ns, "macvlan", macvlanConf)
	pod := createPod(t, newPod(ns, "p", "node-requests", map[string]string{
		"k8s.v1.cni.cncf.io/networks": "macvlan",
	}))
	var counter requestCounter
	d := startDaemon(t, suite.daemonKC, kube.Config{NodeName: "node-requests", Requests: &counter, PodLookupTimeout: 30 * time.Second})
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
	for i, del := range ds {
		d.client.Events().AddedInterface(cached, fmt.Sprintf("net%d", i), []string{fmt.Sprintf("10.9.0.%d/24", i+1)}, del.Name)
	}
	waitEvents(t, ns, kube.ReasonAddedInterface, len(ds))
	want := map[string]int{"patch pods/status": 1, "create events": 2}
	if got := counter.since(before); !maps.Equal(got, want) {
		t.Errorf("requests per ADD = %v, want %v", got, want)
	}

	before = counter.snapshot()
	if _, err := d.client.Pods().GetPod(ctx, ref, attach.OpDel); err != nil {
		t.Fatal(err)
	}
	if got := counter.since(before); len(got) != 0 {
		t.Errorf("requests per DEL = %v, want none", got)
	}
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
