//go:build e2e

package scenarios

import (
	"context"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/multus-thick/multus-thick/scenarios/internal/e2eutil"
)

// Deleting a pod runs DEL through the daemon: net1's host-local lease and
// flannel's lease are released on the node and the daemon's caches for
// the sandbox are removed.
func TestDeleteReleases(t *testing.T) {
	var pod *corev1.Pod
	var net1IP, eth0IP, sandbox string
	f := features.New("delete-releases").
		WithLabel("area", "del").
		WithLabel("profile", "upstream").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			createNAD(ctx, t, "nad/macvlan-hostlocal-low.yaml")
			pod = createPod(ctx, t, "deleted", workers[0], "macvlan-low")
			return ctx
		}).
		Assess("while the pod runs, the node holds its leases and caches", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			pod = readyPod(ctx, t, pod)
			got := checkAttachments(ctx, t, pod, []e2eutil.Want{
				clusterWant(nodeFlannel(ctx, t, workers[0])),
				{Interface: "net1", Network: namespace(ctx) + "/macvlan-low", InPrefix: []netip.Prefix{macvlanNet}},
			})
			n1, _ := e2eutil.Entry(got.Status, "net1")
			if len(n1.IPs) != 1 {
				t.Fatalf("net1 ips %v", n1.IPs)
			}
			net1IP, eth0IP = n1.IPs[0], pod.Status.PodIP
			sandbox = leaseOwner(ctx, t, workers[0], "mt-macvlan-low", net1IP)
			if owner := leaseOwner(ctx, t, workers[0], clusterNetwork, eth0IP); owner != sandbox {
				t.Errorf("flannel lease owner %s, macvlan lease owner %s: want the same sandbox", owner, sandbox)
			}
			files, err := lab.Nodes.FilesMentioning(ctx, workers[0], lab.S.CNIDir, []string{sandbox})
			if err != nil {
				t.Fatal(err)
			}
			if len(files) == 0 {
				t.Errorf("no cache file for sandbox %s under %s on %s", sandbox, lab.S.CNIDir, workers[0])
			}
			return ctx
		}).
		Assess("after delete, both leases and every cache file are gone", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			deletePod(ctx, t, pod)
			// Deletion of the API object waits for kubelet's teardown, so
			// the node is already clean; Until only absorbs API lag.
			err := e2eutil.Until(ctx, nodeStateWait, func(ctx context.Context) (string, error) {
				return nodeLeftovers(ctx, workers[0], []string{sandbox}, "mt-macvlan-low", clusterNetwork)
			})
			if err != nil {
				t.Fatal(err)
			}
			return ctx
		}).
		Feature()
	testenv.Test(t, f)
}
