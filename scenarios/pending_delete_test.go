//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/multus-thick/multus-thick/scenarios/internal/e2eutil"
	"github.com/multus-thick/multus-thick/src/leakcheck"
)

// retryBound is how long the daemon may take to finish a DEL that failed
// twice: the retries come 1 s and 2 s after the failures, so this is all
// margin for a busy 2-core machine.
const retryBound = 30 * time.Second

// A NAD whose DEL fails the first two times for each sandbox. The shim
// reports the failed DEL as success (upstream's default), so kubelet moves
// on and the pod is deleted; the daemon keeps the record and retries in
// the background until cni-fault lets the DEL through: within the retry
// bound the node holds no lease, cache or scratch file of the sandbox.
func TestPendingDeleteRetried(t *testing.T) {
	var pod *corev1.Pod
	var sandbox string
	var ips []string
	f := features.New("pending-delete-retried").
		WithLabel("area", "fault").
		WithLabel("profile", "extended").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			createNAD(ctx, t, "nad/cni-fault-del-twice.yaml")
			pod = createPod(ctx, t, "del-fails", workers[0], "fault-del")
			return ctx
		}).
		Assess("the pod runs with the failing-DEL network", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			pod = readyPod(ctx, t, pod)
			recs, err := faultRecords(ctx, workers[0], pod)
			if err != nil {
				t.Fatal(err)
			}
			adds := sandboxesOf(recs, "ADD")
			if len(adds) == 0 {
				t.Fatal("cni-fault saw no ADD for the pod")
			}
			// The newest: a repeated run (-count) reuses namespace and pod names.
			sandbox = adds[len(adds)-1]
			for _, ip := range pod.Status.PodIPs {
				ips = append(ips, ip.IP)
			}
			return ctx
		}).
		Assess("after delete, the retried DEL releases everything within the retry bound", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			deleted := time.Now()
			deletePod(ctx, t, pod)
			node := leakcheck.NodeFunc(func(ctx context.Context, name string, args ...string) ([]byte, error) {
				if name != "sh" || len(args) != 2 || args[0] != "-c" {
					return nil, fmt.Errorf("leakcheck: unexpected command %s %v", name, args)
				}
				out, err := lab.Nodes.Sh(ctx, workers[0], args[1])
				return []byte(out), err
			})
			checker := &leakcheck.Checker{Node: node}
			spec := leakcheck.Spec{ContainerIDs: []string{sandbox}, PodIPs: ips,
				IPAMDirs: []string{lab.S.HostLocalDir}, CacheDirs: []string{"/var/lib/cni", lab.S.CNIDir}, ScratchDirs: []string{lab.S.CNIDir}}
			err := e2eutil.Until(ctx, retryBound, func(ctx context.Context) (string, error) {
				leaks, err := checker.Check(ctx, spec)
				if err != nil {
					return "", err
				}
				return leakcheck.Describe(leaks), nil
			})
			if err != nil {
				t.Fatalf("sandbox %.12s not released within %s of the delete: %v", sandbox, retryBound, err)
			}
			t.Logf("node clean %s after the delete was issued", time.Since(deleted).Round(100*time.Millisecond))
			// The fault must have bitten: two failed DELs, then one that worked.
			recs, err := faultRecords(ctx, workers[0], pod)
			if err != nil {
				t.Fatal(err)
			}
			dels := 0
			for _, r := range recs {
				if r.Command == "DEL" && r.ContainerID == sandbox {
					dels++
				}
			}
			if dels < 3 {
				t.Errorf("cni-fault saw %d DELs of the sandbox, want at least 3 (two failures and the retry that worked)", dels)
			}
			return ctx
		}).
		Feature()
	testenv.Test(t, f)
}
