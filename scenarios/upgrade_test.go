//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/multus-thick/multus-thick/scenarios/internal/e2eutil"
)

// Pods created before the daemon's image is replaced are deleted cleanly
// after: the new daemon finds what the old one cached and releases every
// lease. Without MT_E2E_UPGRADE_IMAGE the current image is re-tagged on
// every node, which replaces every daemon container (and exercises the
// hand-over) but not the code.
func TestUpgradeThenDelete(t *testing.T) {
	var pods []*corev1.Pod
	var sandboxes []string
	var prevImage, tagged string
	f := features.New("upgrade-then-delete").
		WithLabel("area", "availability").
		WithLabel("profile", "upstream").
		WithLabel("disruptive", "true").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			createNAD(ctx, t, "nad/macvlan-hostlocal-low.yaml")
			createNAD(ctx, t, "nad/macvlan-hostlocal-high.yaml")
			pods = []*corev1.Pod{
				createPod(ctx, t, "before-a", workers[0], "macvlan-low"),
				createPod(ctx, t, "before-b", workers[1], "macvlan-high"),
			}
			return ctx
		}).
		Assess("pods attached by the old daemon are Ready", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			for i, p := range pods {
				p = readyPod(ctx, t, p)
				net := map[int]string{0: "mt-macvlan-low", 1: "mt-macvlan-high"}[i]
				got := checkAttachments(ctx, t, p, []e2eutil.Want{
					clusterWant(nodeFlannel(ctx, t, workers[i])),
					{Interface: "net1", InPrefix: []netip.Prefix{macvlanNet}},
				})
				n1, _ := e2eutil.Entry(got.Status, "net1")
				if len(n1.IPs) == 1 {
					sandboxes = append(sandboxes, leaseOwner(ctx, t, workers[i], net, n1.IPs[0]))
				}
			}
			return ctx
		}).
		Assess("the daemon's image is replaced and rolled out", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ds, err := lab.DaemonSet(ctx)
			if err != nil {
				t.Fatal(err)
			}
			prevImage = ds.Spec.Template.Spec.Containers[0].Image
			next := lab.S.UpgradeImage
			if next == "" {
				next = e2eutil.Retagged(prevImage)
				if err := tagOnDaemonNodes(ctx, prevImage, next); err != nil {
					t.Fatal(err)
				}
				tagged = next
			}
			if _, err := lab.SetDaemonImage(ctx, next, rolloutTimeout); err != nil {
				t.Fatal(err)
			}
			return ctx
		}).
		Assess("deleting the old pods releases every lease and cache", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			for _, p := range pods {
				deletePod(ctx, t, p)
			}
			for i, node := range workers[:2] {
				err := e2eutil.Until(ctx, nodeStateWait, func(ctx context.Context) (string, error) {
					if msg, err := nodeLeftovers(ctx, node, sandboxes, []string{"mt-macvlan-low", "mt-macvlan-high"}[i], clusterNetwork); msg != "" || err != nil {
						return msg, err
					}
					return vethBalance(ctx, node)
				})
				if err != nil {
					t.Error(err)
				}
			}
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			if prevImage == "" {
				return ctx
			}
			if _, err := lab.SetDaemonImage(ctx, prevImage, rolloutTimeout); err != nil {
				t.Errorf("restore daemon image %s: %v", prevImage, err)
			}
			if tagged != "" {
				if err := untagOnDaemonNodes(ctx, tagged); err != nil {
					t.Logf("removing tag %s: %v", tagged, err)
				}
			}
			return ctx
		}).
		Feature()
	testenv.Test(t, f)
}

// tagOnDaemonNodes adds tag next to image in the containerd of every node
// that runs the daemon.
func tagOnDaemonNodes(ctx context.Context, image, next string) error {
	pods, err := lab.DaemonPods(ctx)
	if err != nil {
		return err
	}
	for node := range pods {
		script := fmt.Sprintf("ctr -n k8s.io images tag --force %s %s", e2eutil.ContainerdRef(image), e2eutil.ContainerdRef(next))
		if _, err := lab.Nodes.Sh(ctx, node, script); err != nil {
			return err
		}
	}
	return nil
}

func untagOnDaemonNodes(ctx context.Context, tag string) error {
	pods, err := lab.DaemonPods(ctx)
	if err != nil {
		return err
	}
	for node := range pods {
		if _, err := lab.Nodes.Sh(ctx, node, "ctr -n k8s.io images rm "+e2eutil.ContainerdRef(tag)); err != nil {
			return err
		}
	}
	return nil
}
