//go:build e2e

package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/klient/decoder"

	"github.com/multus-thick/multus-thick/scenarios/internal/e2eutil"
)

// Timeouts of the waits scenarios share. Pod start covers image-less
// sandbox creation on a busy 2-core machine, with margin.
const (
	podReadyTimeout = 2 * time.Minute
	podGoneTimeout  = 2 * time.Minute
	eventTimeout    = 90 * time.Second
	rolloutTimeout  = 4 * time.Minute
	nodeStateWait   = time.Minute
)

// clusterNetwork is the name of the lab's flannel conflist, which the
// daemon reports as the network of eth0.
const clusterNetwork = "cbr0"

// clusterBridge is the bridge the flannel plugin's bridge delegate uses
// (the bridge plugin's default name).
const clusterBridge = "cni0"

// Subnets of the NAD fixtures (fixtures/nad), for range assertions.
var (
	macvlanNet = netip.MustParsePrefix("10.77.0.0/24")
	bridgeNet  = netip.MustParsePrefix("10.88.0.0/24")
)

// createNAD loads a NAD fixture into the test's namespace (or the one
// given by decoder.MutateNamespace in opts) and creates it.
func createNAD(ctx context.Context, t *testing.T, fixture string, opts ...decoder.DecodeOption) *nadv1.NetworkAttachmentDefinition {
	t.Helper()
	nad, err := lab.LoadNAD(fixture, namespace(ctx), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Res.Create(ctx, nad); err != nil {
		t.Fatalf("create NAD %s/%s: %v", nad.Namespace, nad.Name, err)
	}
	return nad
}

// ensureNAD is createNAD for a NAD that an earlier feature of the same
// test (same namespace) may have created already.
func ensureNAD(ctx context.Context, t *testing.T, fixture string, opts ...decoder.DecodeOption) {
	t.Helper()
	nad, err := lab.LoadNAD(fixture, namespace(ctx), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Res.Create(ctx, nad); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create NAD %s/%s: %v", nad.Namespace, nad.Name, err)
	}
}

// createPod creates the test pod as name on node with the given networks
// annotation ("" for none).
func createPod(ctx context.Context, t *testing.T, name, node, networks string, opts ...decoder.DecodeOption) *corev1.Pod {
	t.Helper()
	pod, err := newPod(ctx, name, node, networks, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Res.Create(ctx, pod); err != nil {
		t.Fatalf("create pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	return pod
}

func newPod(ctx context.Context, name, node, networks string, opts ...decoder.DecodeOption) (*corev1.Pod, error) {
	if node != "" {
		opts = append(opts, e2eutil.OnNode(node))
	}
	if networks != "" {
		opts = append(opts, e2eutil.Networks(networks))
	}
	return lab.LoadPod(namespace(ctx), name, opts...)
}

// readyPod waits for the pod to be Ready and returns its fresh copy.
func readyPod(ctx context.Context, t *testing.T, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	fresh, err := lab.WaitPodReady(ctx, pod, podReadyTimeout)
	if err != nil {
		t.Fatal(err)
	}
	return fresh
}

// getPod returns the pod's current state.
func getPod(ctx context.Context, t *testing.T, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	fresh := &corev1.Pod{}
	if err := lab.Res.Get(ctx, pod.Name, pod.Namespace, fresh); err != nil {
		t.Fatalf("get pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	return fresh
}

// deletePod deletes the pod and waits until it is gone.
func deletePod(ctx context.Context, t *testing.T, pod *corev1.Pod) {
	t.Helper()
	if err := lab.Res.Delete(ctx, pod); err != nil {
		t.Fatalf("delete pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
	if err := lab.WaitPodGone(ctx, pod, podGoneTimeout); err != nil {
		t.Fatal(err)
	}
}

// attachments is one pod's two oracles.
type attachments struct {
	Status []nadv1.NetworkStatus
	Netns  e2eutil.Netns
}

// checkAttachments reads both oracles for a Ready pod, fails the test for
// every disagreement between them and every difference from wants, and
// returns them for scenario-specific checks. It must run on the test's
// goroutine; concurrent checks use inspectPod.
func checkAttachments(ctx context.Context, t *testing.T, pod *corev1.Pod, wants []e2eutil.Want) attachments {
	t.Helper()
	got, problems, err := inspectPod(ctx, pod, wants)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	return got
}

// inspectPod is checkAttachments without the testing.T: it returns the
// problems found, and an error when an oracle could not be read.
func inspectPod(ctx context.Context, pod *corev1.Pod, wants []e2eutil.Want) (attachments, []string, error) {
	fresh := &corev1.Pod{}
	if err := lab.Res.Get(ctx, pod.Name, pod.Namespace, fresh); err != nil {
		return attachments{}, nil, fmt.Errorf("get pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	st, err := e2eutil.NetworkStatus(fresh)
	if err != nil {
		return attachments{}, nil, err
	}
	nn, err := lab.Inspect(ctx, fresh)
	if err != nil {
		return attachments{}, nil, err
	}
	var problems []string
	for _, p := range e2eutil.Agree(st, nn) {
		problems = append(problems, fmt.Sprintf("pod %s: annotation and netns disagree: %s", pod.Name, p))
	}
	for _, p := range e2eutil.Expect(st, wants) {
		problems = append(problems, fmt.Sprintf("pod %s: %s", pod.Name, p))
	}
	return attachments{Status: st, Netns: nn}, problems, nil
}

// checkPods runs inspectPod on every pod concurrently and reports every
// problem on t.
func checkPods(ctx context.Context, t *testing.T, pods []*corev1.Pod, wants func(*corev1.Pod) []e2eutil.Want) {
	t.Helper()
	var mu sync.Mutex
	var problems []string
	forEachPod(pods, func(p *corev1.Pod) {
		_, ps, err := inspectPod(ctx, p, wants(p))
		if err != nil {
			ps = append(ps, err.Error())
		}
		mu.Lock()
		problems = append(problems, ps...)
		mu.Unlock()
	})
	for _, p := range problems {
		t.Error(p)
	}
}

// flannelEnv is the node's /run/flannel/subnet.env: the cluster network
// and this node's subnet, whose first address is the pods' gateway.
type flannelEnv struct {
	Network netip.Prefix
	Subnet  netip.Prefix // masked
	Gateway netip.Addr
}

func nodeFlannel(ctx context.Context, t *testing.T, node string) flannelEnv {
	t.Helper()
	out, err := lab.Nodes.Sh(ctx, node, "cat /run/flannel/subnet.env")
	if err != nil {
		t.Fatal(err)
	}
	var fe flannelEnv
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "FLANNEL_NETWORK":
			fe.Network, err = netip.ParsePrefix(v)
		case "FLANNEL_SUBNET":
			var p netip.Prefix
			if p, err = netip.ParsePrefix(v); err == nil {
				fe.Subnet, fe.Gateway = p.Masked(), p.Addr()
			}
		}
		if err != nil {
			t.Fatalf("node %s subnet.env %q: %v", node, line, err)
		}
	}
	if !fe.Network.IsValid() || !fe.Subnet.IsValid() {
		t.Fatalf("node %s subnet.env lacks FLANNEL_NETWORK/FLANNEL_SUBNET: %q", node, out)
	}
	return fe
}

// clusterWant is eth0's expected network-status entry on node.
func clusterWant(fe flannelEnv) e2eutil.Want {
	return e2eutil.Want{Interface: "eth0", Network: clusterNetwork, Default: true, InPrefix: []netip.Prefix{fe.Subnet}}
}

// flannelRoutes are exactly the routes the flannel plugin gives eth0
// (bridge with isDefaultGateway, host-local with the cluster route).
func flannelRoutes(fe flannelEnv, withDefault bool) []string {
	r := []string{
		fe.Network.String() + " via " + fe.Gateway.String() + " dev eth0",
		fe.Subnet.String() + " dev eth0",
	}
	if withDefault {
		r = append(r, "default via "+fe.Gateway.String()+" dev eth0")
	}
	sort.Strings(r)
	return r
}

// routesOn renders the netns routes through dev, sorted, for comparison.
func routesOn(n e2eutil.Netns, dev string) []string {
	var out []string
	for _, r := range n.RoutesOn(dev) {
		out = append(out, r.String())
	}
	sort.Strings(out)
	return out
}

func equalStrings(a, b []string) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// pingUntil pings ip from pod (through dev if set) until it answers; the
// first packets may be lost to ARP or to flannel learning a new route.
func pingUntil(ctx context.Context, t *testing.T, pod *corev1.Pod, ip, dev string) {
	t.Helper()
	err := e2eutil.Until(ctx, nodeStateWait, func(ctx context.Context) (string, error) {
		if err := lab.Ping(ctx, pod, ip, dev); err != nil {
			return err.Error(), nil
		}
		return "", nil
	})
	if err != nil {
		t.Fatalf("pod %s cannot reach %s over %q: %v", pod.Name, ip, dev, err)
	}
}

// sandboxID is the pod's sandbox (CNI container) ID as host-local and the
// caches record it, found from the fault log or leases; for a running pod
// we read it from host-local's lease for the pod's IP.
func leaseOwner(ctx context.Context, t *testing.T, node, network, ip string) string {
	t.Helper()
	leases, err := lab.Nodes.HostLocalLeases(ctx, node, lab.S.HostLocalDir, network)
	if err != nil {
		t.Fatal(err)
	}
	id, ok := leases[ip]
	if !ok {
		t.Fatalf("node %s: host-local %s holds no lease for %s (leases %v)", node, network, ip, leases)
	}
	return id
}

// nodeLeftovers describes what node still holds for any of the sandboxes:
// host-local leases in networks, and cache files named after a sandbox
// under /var/lib/cni (containerd's libcni cache) and the daemon's cniDir.
// "" means nothing is left.
func nodeLeftovers(ctx context.Context, node string, sandboxes []string, networks ...string) (string, error) {
	owned := map[string]bool{}
	for _, s := range sandboxes {
		owned[s] = true
	}
	var left []string
	for _, n := range networks {
		leases, err := lab.Nodes.HostLocalLeases(ctx, node, lab.S.HostLocalDir, n)
		if err != nil {
			return "", err
		}
		for ip, owner := range leases {
			if owned[owner] {
				left = append(left, fmt.Sprintf("lease %s/%s held by %.12s", n, ip, owner))
			}
		}
	}
	dirs := []string{"/var/lib/cni"}
	if !strings.HasPrefix(lab.S.CNIDir, "/var/lib/cni/") {
		dirs = append(dirs, lab.S.CNIDir)
	}
	for _, d := range dirs {
		files, err := lab.Nodes.FilesMentioning(ctx, node, d, sandboxes)
		if err != nil {
			return "", err
		}
		for _, f := range files {
			left = append(left, "file "+f)
		}
	}
	if len(left) > 0 {
		return fmt.Sprintf("node %s still holds %v", node, left), nil
	}
	return "", nil
}

// faultRecord is one line of cni-fault's recordFile (src/internal/fault).
type faultRecord struct {
	Time        time.Time `json:"time"`
	Command     string    `json:"command"`
	ContainerID string    `json:"containerID"`
	IfName      string    `json:"ifname"`
	Args        string    `json:"args"`
	// Config is the network config cni-fault received on stdin.
	Config json.RawMessage `json:"config"`
}

// faultRecords returns cni-fault's calls on node for the pod, oldest first.
func faultRecords(ctx context.Context, node string, pod *corev1.Pod) ([]faultRecord, error) {
	out, err := lab.Nodes.Sh(ctx, node, fmt.Sprintf("grep -F 'K8S_POD_NAMESPACE=%s;' %s || true", pod.Namespace, lab.S.FaultLog))
	if err != nil {
		return nil, err
	}
	var recs []faultRecord
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var r faultRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("fault log line %q: %w", line, err)
		}
		if strings.Contains(";"+r.Args+";", ";K8S_POD_NAME="+pod.Name+";") {
			recs = append(recs, r)
		}
	}
	return recs, nil
}

// sandboxesOf returns the container IDs of the records with command cmd,
// in first-seen order.
func sandboxesOf(recs []faultRecord, cmd string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range recs {
		if r.Command == cmd && !seen[r.ContainerID] {
			seen[r.ContainerID] = true
			out = append(out, r.ContainerID)
		}
	}
	return out
}

// vethBalance compares the veths on the node's cni0 with the pods that
// have a live sandbox on the node (every non-host-network pod past sandbox
// creation owns exactly one). A leaked cluster-network
// attachment shows up as an extra veth.
func vethBalance(ctx context.Context, node string) (string, error) {
	veths, err := lab.Nodes.BridgePorts(ctx, node, clusterBridge)
	if err != nil {
		return "", err
	}
	pods, err := lab.Kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return "", err
	}
	live := 0
	for _, p := range pods.Items {
		if !p.Spec.HostNetwork && p.Status.PodIP != "" && p.Status.Phase == corev1.PodRunning {
			live++
		}
	}
	if len(veths) != live {
		return fmt.Sprintf("node %s has %d veths for %d running pods with a sandbox", node, len(veths), live), nil
	}
	return "", nil
}

// podSet creates n test pods named prefix-0.. on node with networks and
// returns them; after is called once the k-th pod is created (k counted
// from 1), for scenarios that disturb the daemon in the middle of a burst.
func podSet(ctx context.Context, t *testing.T, prefix, node, networks string, n, k int, after func()) []*corev1.Pod {
	t.Helper()
	pods := make([]*corev1.Pod, 0, n)
	for i := 0; i < n; i++ {
		pods = append(pods, createPod(ctx, t, fmt.Sprintf("%s-%d", prefix, i), node, networks))
		if i+1 == k && after != nil {
			after()
		}
	}
	return pods
}

// forEachPod runs fn on every pod with at most 6 at a time (exec and API
// calls; the lab's control plane is small).
func forEachPod(pods []*corev1.Pod, fn func(*corev1.Pod)) {
	sem := make(chan struct{}, 6)
	var wg sync.WaitGroup
	for _, p := range pods {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(p)
		}()
	}
	wg.Wait()
}

// allReady waits for every pod to be Ready within timeout and returns
// their fresh copies.
func allReady(ctx context.Context, t *testing.T, pods []*corev1.Pod, timeout time.Duration) []*corev1.Pod {
	t.Helper()
	out := make([]*corev1.Pod, len(pods))
	var mu sync.Mutex
	var failed []string
	forEachPod(pods, func(p *corev1.Pod) {
		fresh, err := lab.WaitPodReady(ctx, p, timeout)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failed = append(failed, err.Error())
			return
		}
		for i := range pods {
			if pods[i] == p {
				out[i] = fresh
			}
		}
	})
	if len(failed) > 0 {
		sort.Strings(failed)
		t.Fatalf("%d of %d pods not ready, e.g.: %v", len(failed), len(pods), failed[:min(3, len(failed))])
	}
	return out
}
