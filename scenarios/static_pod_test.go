//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	"sigs.k8s.io/yaml"

	"github.com/multus-thick/multus-thick/scenarios/internal/e2eutil"
)

// staticPodDir is the kubelet's staticPodPath on kind nodes (kubeadm's
// default, set on workers too).
const staticPodDir = "/etc/kubernetes/manifests"

// A static pod (a kubelet manifest on a worker, as upstream's e2e does)
// with a macvlan attachment: the runtime sends the static pod's UID while
// the API holds a mirror pod with another one, and the daemon still
// attaches net1 and writes network-status on the mirror pod.
func TestStaticPod(t *testing.T) {
	const name = "static"
	var node, manifest string
	var mirror *corev1.Pod
	removeManifest := func(ctx context.Context, t *testing.T) {
		if _, err := lab.Nodes.Sh(ctx, node, "rm -f "+manifest); err != nil {
			t.Errorf("remove static pod manifest: %v", err)
		}
	}
	f := features.New("static-pod").
		WithLabel("area", "attach").
		WithLabel("profile", "upstream").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ns := namespace(ctx)
			node, manifest = workers[0], fmt.Sprintf("%s/mt-%s.yaml", staticPodDir, ns)
			createNAD(ctx, t, "nad/macvlan-hostlocal-low.yaml")
			pod, err := lab.LoadPod(ns, name, e2eutil.Networks("macvlan-low"))
			if err != nil {
				t.Fatal(err)
			}
			pod.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
			data, err := yaml.Marshal(pod)
			if err != nil {
				t.Fatal(err)
			}
			// Written beside the directory and renamed in, so the kubelet
			// never reads half a manifest.
			tmp := fmt.Sprintf("/etc/kubernetes/.mt-%s.yaml", ns)
			script := fmt.Sprintf("cat > %s <<'MT_EOF'\n%s\nMT_EOF\nmv %s %s", tmp, data, tmp, manifest)
			t.Cleanup(func() { removeManifest(context.WithoutCancel(ctx), t) })
			if _, err := lab.Nodes.Sh(ctx, node, script); err != nil {
				t.Fatalf("write static pod manifest: %v", err)
			}
			// The kubelet names the mirror pod <name>-<node>.
			mirror = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-" + node}}
			return ctx
		}).
		Assess("the mirror pod becomes Ready with net1, and the annotation agrees with the netns", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			p := readyPod(ctx, t, mirror)
			if src := p.Annotations["kubernetes.io/config.source"]; src != "file" {
				t.Errorf("pod %s: config.source %q, want file (a mirror pod)", p.Name, src)
			}
			checkAttachments(ctx, t, p, []e2eutil.Want{
				clusterWant(nodeFlannel(ctx, t, node)),
				{Interface: "net1", Network: namespace(ctx) + "/macvlan-low", InPrefix: []netip.Prefix{macvlanNet}},
			})
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			removeManifest(ctx, t)
			if err := lab.WaitPodGone(ctx, mirror, podGoneTimeout); err != nil {
				t.Error(err)
			}
			return ctx
		}).
		Feature()
	testenv.Test(t, f)
}
