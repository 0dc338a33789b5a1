//go:build e2e

package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/multus-thick/multus-thick/scenarios/internal/e2eutil"
)

// auxChain is the auxiliaryCNIChainName the scenario sets, and so the
// subdirectory of the node's CNI config dir its plugins live in.
const auxChain = "vendor-cni-chain"

// auxSysctl is what the chain's tuning plugin sets in every pod: a sysctl
// whose value in a fresh netns is 0, so a 1 can only come from the chain.
const auxSysctl = "net.ipv4.conf.eth0.arp_filter"

// TestAuxiliaryChain is upstream's subdirectory chaining through passthru
// (multus-thick-behaviour.md §6, test-subdirectory-chaining-passthru): with
// auxiliaryCNIChainName set, the plugins in <cluster network's dir>/<name>/
// run after the pod's networks as a chain headed by passthru, which the
// DaemonSet's init container installed on the node. Here that chain is
// tuning, setting a sysctl on eth0 inside the pod.
func TestAuxiliaryChain(t *testing.T) {
	var pod *corev1.Pod
	f := features.New("auxiliary-cni-chain").
		WithLabel("area", "config").
		WithLabel("profile", "upstream").
		WithLabel("disruptive", "true").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			writeAuxChain(ctx, t, workers[0])
			restore, err := lab.PatchDaemonConfig(ctx, map[string]any{"auxiliaryCNIChainName": auxChain}, rolloutTimeout)
			// Registered before the error check: a failed rollout may
			// still have changed the ConfigMap.
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*rolloutTimeout)
				defer cancel()
				if restore == nil {
					return
				}
				if err := restore(ctx); err != nil {
					t.Errorf("restore daemon config: %v", err)
				}
			})
			if err != nil {
				t.Fatalf("set auxiliaryCNIChainName: %v", err)
			}
			pod = createPod(ctx, t, "aux-chain", workers[0], "")
			return ctx
		}).
		Assess("the chain's tuning plugin set the sysctl inside the pod", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			p := readyPod(ctx, t, pod)
			out, err := lab.Exec(ctx, p, "cat", "/proc/sys/"+strings.ReplaceAll(auxSysctl, ".", "/"))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(out); got != "1" {
				t.Errorf("pod %s: %s = %q, want 1 (set by the %s chain)", p.Name, auxSysctl, got, auxChain)
			}
			return ctx
		}).
		Assess("the pod's networks are unchanged: only the cluster network on eth0", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			checkAttachments(ctx, t, getPod(ctx, t, pod), []e2eutil.Want{clusterWant(nodeFlannel(ctx, t, workers[0]))})
			return ctx
		}).
		Assess("deleting the pod runs the chain's DEL: its libcni cache goes", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			results := lab.S.CNIDir + "/results"
			before, err := lab.Nodes.FilesMentioning(ctx, workers[0], results, []string{auxChain})
			if err != nil {
				t.Fatal(err)
			}
			if len(before) == 0 {
				t.Fatalf("no libcni result of %s under %s on %s: the chain did not run through the daemon", auxChain, results, workers[0])
			}
			deletePod(ctx, t, pod)
			err = e2eutil.Until(ctx, nodeStateWait, func(ctx context.Context) (string, error) {
				files, err := lab.Nodes.FilesMentioning(ctx, workers[0], results, []string{auxChain})
				if err != nil || len(files) > 0 {
					return fmt.Sprintf("libcni results of %s still on the node: %v", auxChain, files), err
				}
				return "", nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return ctx
		}).
		Feature()
	testenv.Test(t, f)
}

// writeAuxChain puts the chain's plugin config on node, where the daemon
// looks for it (next to the primary config, in /etc/cni/net.d/<name>/), and
// removes the directory when the test ends.
func writeAuxChain(ctx context.Context, t *testing.T, node string) {
	t.Helper()
	conf, err := json.Marshal(map[string]any{
		"cniVersion": "0.3.1", "name": auxChain, "type": "tuning",
		"sysctl": map[string]string{auxSysctl: "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := "/etc/cni/net.d/" + auxChain
	t.Cleanup(func() {
		ctx := context.WithoutCancel(ctx)
		if _, err := lab.Nodes.Sh(ctx, node, "rm -rf "+dir); err != nil {
			t.Errorf("remove %s on %s: %v", dir, node, err)
		}
	})
	script := fmt.Sprintf("mkdir -p %s && printf '%%s\\n' '%s' > %s/sysctltwiddle.conf", dir, conf, dir)
	if _, err := lab.Nodes.Sh(ctx, node, script); err != nil {
		t.Fatalf("write the %s chain on %s: %v", auxChain, node, err)
	}
}
