//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/multus-thick/multus-thick/scenarios/internal/e2eutil"
)

// rebootTimeout bounds a worker's restart: node container stop and boot,
// kubelet, flannel, our daemon, then every pod's new sandbox.
const rebootTimeout = 5 * time.Minute

// A worker reboots (docker restart of its node container) with pods with
// attachments on it (upstream #1387: after a reboot pods came back without
// their secondary interfaces). 00-multus.conf survives the reboot but
// flannel's subnet.env (in /run) does not, so the ADDs of the new
// sandboxes meet our daemon before the cluster network is ready: the
// readiness indicator makes them wait. Afterwards every pod runs with all
// its interfaces and the node holds nothing of the old sandboxes.
func TestNodeReboot(t *testing.T) {
	const n = 3
	var (
		pods []*corev1.Pod
		old  []string // sandboxes before the reboot
	)
	node := ""
	wants := func(ctx context.Context, t *testing.T) []e2eutil.Want {
		return []e2eutil.Want{
			clusterWant(nodeFlannel(ctx, t, node)),
			{Interface: "net1", Network: namespace(ctx) + "/macvlan-low", InPrefix: []netip.Prefix{macvlanNet}},
		}
	}
	f := features.New("node-reboot").
		WithLabel("area", "availability").
		WithLabel("profile", "extended").
		WithLabel("disruptive", "true").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			node = workers[1]
			createNAD(ctx, t, "nad/macvlan-hostlocal-low.yaml")
			pods = allReady(ctx, t, podSet(ctx, t, "reboot", node, "macvlan-low", n, 0, nil), podReadyTimeout)
			w := wants(ctx, t)
			for _, p := range pods {
				got := checkAttachments(ctx, t, p, w)
				n1, _ := e2eutil.Entry(got.Status, "net1")
				if len(n1.IPs) != 1 {
					t.Fatalf("pod %s net1 ips %v", p.Name, n1.IPs)
				}
				old = append(old, leaseOwner(ctx, t, node, "mt-macvlan-low", n1.IPs[0]))
			}
			return ctx
		}).
		Assess("the worker restarts and every pod comes back Ready", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			start := time.Now()
			if err := dockerOnHost(ctx, "restart", node); err != nil {
				t.Fatal(err)
			}
			t.Logf("docker restart %s took %s", node, time.Since(start).Round(time.Second))
			err := e2eutil.Until(ctx, rebootTimeout, func(ctx context.Context) (string, error) {
				if msg, err := nodeNotReady(ctx, node); msg != "" || err != nil {
					return msg, err
				}
				for _, p := range pods {
					fresh := &corev1.Pod{}
					if err := lab.Res.Get(ctx, p.Name, p.Namespace, fresh); err != nil {
						return "", err
					}
					if !restartedAndReady(fresh) {
						return fmt.Sprintf("pod %s not yet restarted and Ready", p.Name), nil
					}
				}
				return "", nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := lab.WaitDaemonRolledOut(ctx, rolloutTimeout); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s and its %d pods back after %s", node, n, time.Since(start).Round(time.Second))
			// Evidence, not an assertion (flannel may win the race): did
			// the daemon hold requests until subnet.env was back?
			if lines, err := lab.DaemonLogLines(ctx, node, start, "waiting for the primary network",
				"waiting for the readiness indicator file", "/readyz: not ready"); err == nil {
				t.Logf("daemon on %s: %d log lines of waiting for the primary network", node, len(lines))
			}
			return ctx
		}).
		Assess("every pod has eth0 and net1 in both oracles", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			w := wants(ctx, t)
			checkPods(ctx, t, pods, func(*corev1.Pod) []e2eutil.Want { return w })
			return ctx
		}).
		Assess("the node holds no lease or cache of the old sandboxes", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			err := e2eutil.Until(ctx, nodeStateWait, func(ctx context.Context) (string, error) {
				if left, err := nodeLeftovers(ctx, node, old, "mt-macvlan-low", clusterNetwork); left != "" || err != nil {
					return left, err
				}
				return vethBalance(ctx, node)
			})
			if err != nil {
				t.Fatal(err)
			}
			return ctx
		}).
		Feature()
	testenv.Test(t, f)
}

// nodeNotReady says why node is not Ready ("" when it is).
func nodeNotReady(ctx context.Context, node string) (string, error) {
	nd, err := lab.Kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("node %s: %w", node, err)
	}
	for _, c := range nd.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			return "", nil
		}
	}
	return fmt.Sprintf("node %s not Ready", node), nil
}

// restartedAndReady: the pod's container was restarted (a reboot gives it
// a new sandbox) and the pod is Ready again.
func restartedAndReady(p *corev1.Pod) bool {
	restarted := false
	for _, cs := range p.Status.ContainerStatuses {
		restarted = restarted || cs.RestartCount > 0
	}
	ready := false
	for _, c := range p.Status.Conditions {
		ready = ready || (c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue)
	}
	return restarted && ready
}

// dockerOnHost runs docker on the machine hosting the kind nodes: restarts
// and copies into a node need the node container itself, which the pod
// node access cannot reach.
func dockerOnHost(ctx context.Context, args ...string) error {
	if lab.S.NodeAccess != e2eutil.NodeAccessDocker {
		return fmt.Errorf("docker %s needs MT_E2E_NODE_ACCESS=%s (the nodes are kind containers), got %q",
			args[0], e2eutil.NodeAccessDocker, lab.S.NodeAccess)
	}
	_, err := e2eutil.ExecRunner{}.Run(ctx, "docker", args...)
	return err
}
