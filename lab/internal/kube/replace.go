package kube

import (
	"context"
	"fmt"
	"io"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
)

// DeleteChangedDaemonSets deletes each DaemonSet in objs that exists with a
// different spec.selector, and waits until it and its pods are gone. A
// selector cannot be changed in place, so switching the lab between two
// manifests that select differently (ours on app=multus, upstream's on
// name=multus) needs the old DaemonSet gone before Apply creates the new
// one. It returns the names it deleted; ctx bounds the wait.
func (c *Client) DeleteChangedDaemonSets(ctx context.Context, objs []*unstructured.Unstructured, log io.Writer) ([]string, error) {
	if log == nil {
		log = io.Discard
	}
	var deleted []string
	for _, o := range objs {
		if o.GetKind() != "DaemonSet" {
			continue
		}
		ns, name := o.GetNamespace(), o.GetName()
		cur, err := c.Core.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return deleted, fmt.Errorf("DaemonSet %s/%s: %w", ns, name, err)
		}
		want, _, err := unstructured.NestedStringMap(o.Object, "spec", "selector", "matchLabels")
		if err != nil {
			return deleted, fmt.Errorf("DaemonSet %s/%s selector: %w", ns, name, err)
		}
		_, hasExpr, _ := unstructured.NestedSlice(o.Object, "spec", "selector", "matchExpressions")
		if cur.Spec.Selector != nil && len(cur.Spec.Selector.MatchExpressions) == 0 && !hasExpr &&
			reflect.DeepEqual(cur.Spec.Selector.MatchLabels, want) {
			continue
		}
		fmt.Fprintf(log, "DaemonSet %s/%s: selector %v -> %v cannot change in place; deleting it\n",
			ns, name, metav1.FormatLabelSelector(cur.Spec.Selector), want)
		// Foreground: the object goes only after its pods, so the new
		// DaemonSet never runs next to a terminating old pod on a node.
		fg := metav1.DeletePropagationForeground
		err = c.Core.AppsV1().DaemonSets(ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &fg})
		if err != nil && !apierrors.IsNotFound(err) {
			return deleted, fmt.Errorf("delete DaemonSet %s/%s: %w", ns, name, err)
		}
		if err := c.waitGone(ctx, ns, name); err != nil {
			return deleted, err
		}
		deleted = append(deleted, ns+"/"+name)
	}
	return deleted, nil
}

func (c *Client) waitGone(ctx context.Context, ns, name string) error {
	last := "present"
	err := wait.PollUntilContextCancel(ctx, c.poll(), true, func(ctx context.Context) (bool, error) {
		_, err := c.Core.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			last = err.Error()
		}
		return false, nil
	})
	return waitErr("DaemonSet "+ns+"/"+name+" deleted", last, err)
}
