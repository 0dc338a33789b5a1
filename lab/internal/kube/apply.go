package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// DryRun asks the API server to validate and default every object
	// (admission included) without persisting it.
	DryRun bool
	// Log gets one line per object; nil discards.
	Log io.Writer
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Apply server-side applies objects in order, forcing ownership of the
// fields they set (the lab is the only writer of its objects). A CRD is
// waited for until Established, so objects of its kind later in the list
// resolve; that wait is skipped in a dry run, where nothing is created.
func (c *Client) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) error {
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	for _, obj := range objs {
		if err := c.applyOne(ctx, obj, opts); err != nil {
			return err
		}
		fmt.Fprintf(log, "applied %s %s%s\n", obj.GetKind(), nsName(obj), dryRunNote(opts.DryRun))
		if obj.GetKind() == "CustomResourceDefinition" && !opts.DryRun {
			if err := c.waitEstablished(ctx, obj.GetName()); err != nil {
				return err
			}
			c.mapper.Reset()
		}
	}
	return nil
}

func (c *Client) applyOne(ctx context.Context, obj *unstructured.Unstructured, opts ApplyOptions) error {
	gvk := obj.GroupVersionKind()
	mapping, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		c.mapper.Reset() // a CRD applied by someone else a moment ago
		mapping, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", gvk.Kind, nsName(obj), err)
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("%s %s: %w", gvk.Kind, nsName(obj), err)
	}
	ri := c.Dynamic.Resource(mapping.Resource)
	var target interface {
		Patch(context.Context, string, types.PatchType, []byte, metav1.PatchOptions, ...string) (*unstructured.Unstructured, error)
	} = ri
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := obj.GetNamespace()
		if ns == "" {
			ns = metav1.NamespaceDefault
		}
		target = ri.Namespace(ns)
	}
	force := true
	po := metav1.PatchOptions{FieldManager: FieldManager, Force: &force}
	if opts.DryRun {
		po.DryRun = []string{metav1.DryRunAll}
	}
	if _, err := target.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, po); err != nil {
		return fmt.Errorf("apply %s %s: %w", gvk.Kind, nsName(obj), err)
	}
	return nil
}

func (c *Client) waitEstablished(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		crd, err := c.Dynamic.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, cond := range conds {
			m, _ := cond.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("CRD %s not established: %w", name, err)
	}
	return nil
}

// SetTemplateAnnotation sets an annotation on a workload's pod template, so
// that a change of its value (an image rebuilt under the same tag) rolls
// the pods.
func SetTemplateAnnotation(obj *unstructured.Unstructured, key, value string) error {
	path := []string{"spec", "template", "metadata", "annotations"}
	ann, _, err := unstructured.NestedStringMap(obj.Object, path...)
	if err != nil {
		return fmt.Errorf("%s %s annotations: %w", obj.GetKind(), nsName(obj), err)
	}
	if ann == nil {
		ann = map[string]string{}
	}
	ann[key] = value
	return unstructured.SetNestedStringMap(obj.Object, ann, path...)
}

func nsName(obj *unstructured.Unstructured) string {
	if obj.GetNamespace() == "" {
		return obj.GetName()
	}
	return obj.GetNamespace() + "/" + obj.GetName()
}

func dryRunNote(dry bool) string {
	if dry {
		return " (server dry run)"
	}
	return ""
}
