package kube

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/multus-thick/multus-thick/lab/rollout"
)

// WaitNodesReady waits until want nodes exist and all are Ready. The
// caller's context carries the deadline; the error says what was missing.
func (c *Client) WaitNodesReady(ctx context.Context, want int) error {
	var last string
	err := wait.PollUntilContextCancel(ctx, c.poll(), true, func(ctx context.Context) (bool, error) {
		nodes, err := c.Core.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			last = err.Error()
			return false, nil // the API server may still be coming up
		}
		ready := 0
		var notReady []string
		for _, n := range nodes.Items {
			if nodeReady(&n) {
				ready++
			} else {
				notReady = append(notReady, n.Name)
			}
		}
		last = fmt.Sprintf("%d/%d nodes ready (not ready: %v)", ready, want, notReady)
		return len(nodes.Items) == want && ready == want, nil
	})
	return waitErr("nodes ready", last, err)
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitDaemonSet waits until the DaemonSet's current generation runs and is
// ready on every node it targets.
func (c *Client) WaitDaemonSet(ctx context.Context, ns, name string) error {
	var last string
	err := wait.PollUntilContextCancel(ctx, c.poll(), true, func(ctx context.Context) (bool, error) {
		ds, err := c.Core.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			last = "not found"
			return false, nil
		}
		if err != nil {
			last = err.Error()
			return false, nil
		}
		done, progress := rollout.DaemonSet(ds)
		last = progress
		return done, nil
	})
	return waitErr("DaemonSet "+ns+"/"+name, last, err)
}

// WaitDeployment waits until every replica of the Deployment's current
// generation is available.
func (c *Client) WaitDeployment(ctx context.Context, ns, name string) error {
	var last string
	err := wait.PollUntilContextCancel(ctx, c.poll(), true, func(ctx context.Context) (bool, error) {
		d, err := c.Core.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		s := d.Status
		last = fmt.Sprintf("replicas %d, updated %d, available %d", want, s.UpdatedReplicas, s.AvailableReplicas)
		return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.AvailableReplicas == want, nil
	})
	return waitErr("Deployment "+ns+"/"+name, last, err)
}

func waitErr(what, last string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("waiting for %s: %w (last seen: %s)", what, err, last)
	}
	return fmt.Errorf("waiting for %s: %w", what, err)
}

// WaitAPI waits until the API server answers (a restarted cluster takes a
// while).
func (c *Client) WaitAPI(ctx context.Context) error {
	var last string
	err := wait.PollUntilContextCancel(ctx, c.poll(), true, func(ctx context.Context) (bool, error) {
		_, err := c.Core.Discovery().ServerVersion()
		if err != nil {
			last = err.Error()
			return false, nil
		}
		return true, nil
	})
	return waitErr("the API server", last, err)
}
