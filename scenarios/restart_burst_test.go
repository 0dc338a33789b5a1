//go:build e2e

package scenarios

import (
	"context"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/multus-thick/multus-thick/scenarios/internal/e2eutil"
)

// The daemon is rolled (every daemon pod replaced) while 20 pods with a
// macvlan attachment are being created on both workers. Every pod must
// end up with ALL its interfaces: an ADD cut short by the restart must
// fail and be retried, never complete with the cluster network alone.
func TestDaemonRestartDuringBurst(t *testing.T) {
	const perNode = 10
	var pods []*corev1.Pod
	f := features.New("daemon-restart-during-burst").
		WithLabel("area", "availability").
		WithLabel("profile", "extended").
		WithLabel("disruptive", "true").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			createNAD(ctx, t, "nad/macvlan-hostlocal-low.yaml")
			createNAD(ctx, t, "nad/macvlan-hostlocal-high.yaml")
			// Half the burst, then the restart; the other half is created
			// once the rollout has reached a worker, so its ADDs meet a
			// daemon that is going away or coming back.
			pods = append(pods, podSet(ctx, t, "burst-a", workers[0], "macvlan-low", perNode/2, 0, nil)...)
			pods = append(pods, podSet(ctx, t, "burst-b", workers[1], "macvlan-high", perNode/2, 0, nil)...)
			if err := lab.RestartDaemon(ctx); err != nil {
				t.Fatal(err)
			}
			err := e2eutil.Until(ctx, rolloutTimeout, func(ctx context.Context) (string, error) {
				for _, w := range workers[:2] {
					if busy, err := lab.DaemonBeingReplaced(ctx, w); busy || err != nil {
						return "", err
					}
				}
				return "the rollout has not reached a worker yet", nil
			})
			if err != nil {
				t.Fatal(err)
			}
			pods = append(pods, podSet(ctx, t, "burst-c", workers[0], "macvlan-low", perNode/2, 0, nil)...)
			pods = append(pods, podSet(ctx, t, "burst-d", workers[1], "macvlan-high", perNode/2, 0, nil)...)
			return ctx
		}).
		Assess("the daemon rolls out and all 20 pods become Ready", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			if err := lab.WaitDaemonRolledOut(ctx, rolloutTimeout); err != nil {
				t.Fatal(err)
			}
			pods = allReady(ctx, t, pods, 5*time.Minute)
			// Say how much of the burst met the restart: pods whose first
			// sandbox failed were retried by kubelet.
			evs, err := lab.Kube.CoreV1().Events(namespace(ctx)).List(ctx, metav1.ListOptions{FieldSelector: "reason=FailedCreatePodSandBox"})
			if err == nil {
				hit := map[string]bool{}
				for _, e := range evs.Items {
					hit[e.InvolvedObject.Name] = true
				}
				t.Logf("%d of %d pods had a sandbox attempt fail during the restart and were retried", len(hit), len(pods))
			}
			return ctx
		}).
		Assess("every pod has eth0 and net1 in both oracles; none is flannel-only", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ns := namespace(ctx)
			fes := map[string]flannelEnv{workers[0]: nodeFlannel(ctx, t, workers[0]), workers[1]: nodeFlannel(ctx, t, workers[1])}
			checkPods(ctx, t, pods, func(p *corev1.Pod) []e2eutil.Want {
				nad := "macvlan-low"
				if p.Spec.NodeName == workers[1] {
					nad = "macvlan-high"
				}
				return []e2eutil.Want{
					clusterWant(fes[p.Spec.NodeName]),
					{Interface: "net1", Network: ns + "/" + nad, InPrefix: []netip.Prefix{macvlanNet}},
				}
			})
			return ctx
		}).
		Feature()
	testenv.Test(t, f)
}
