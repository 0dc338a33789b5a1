package actions

import (
	"context"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/multus-thick/multus-thick/lab/internal/addons"
	"github.com/multus-thick/multus-thick/lab/internal/kube"
)

// imageIDAnnotation on a pod template carries the image ID the pods should
// run: the lab's tags never change (localhost/...:lab), so a rebuilt image
// only rolls the pods through this annotation.
const imageIDAnnotation = "lab.multus-thick.io/image-id"

// upDaemon applies the LAB_MANIFEST manifest (deployments/ by default)
// with the lab's image and waits for it.
func (e *env) upDaemon(ctx context.Context, st *upState) error {
	return e.progress.Do(ctx, "multus daemon from "+st.manifest.source, func(ctx context.Context, log io.Writer) error {
		if st.daemonImageErr != nil {
			return st.daemonImageErr
		}
		client, err := e.clientFor(st)
		if err != nil {
			return err
		}
		objs, err := st.manifest.objects()
		if err != nil {
			return err
		}
		if st.daemonOverride != "" {
			n, err := setImage(objs, st.daemonOverride)
			if err != nil {
				return fmt.Errorf("LAB_DAEMON_IMAGE: %w", err)
			}
			if n == 0 {
				return fmt.Errorf("LAB_DAEMON_IMAGE: the manifest has no DaemonSet %s/%s to run %s", daemonNamespace, daemonName, st.daemonOverride)
			}
		}
		if err := annotateImageID(objs, st.imageID(st.daemonRef())); err != nil {
			return err
		}
		dctx, cancel := context.WithTimeout(ctx, rolloutTimeout)
		defer cancel()
		if _, err := client.DeleteChangedDaemonSets(dctx, objs, log); err != nil {
			return err
		}
		if err := client.Apply(ctx, objs, kube.ApplyOptions{Log: log}); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, rolloutTimeout)
		defer cancel()
		return client.WaitDaemonSet(wctx, daemonNamespace, daemonName)
	})
}

// upNADs applies the lab's NADs (fixtures/nad/lab-*.yaml).
func (e *env) upNADs(ctx context.Context, st *upState) error {
	return e.progress.Do(ctx, "lab NetworkAttachmentDefinitions", func(ctx context.Context, log io.Writer) error {
		client, err := e.clientFor(st)
		if err != nil {
			return err
		}
		objs, err := addons.LabNADs()
		if err != nil {
			return err
		}
		return client.Apply(ctx, objs, kube.ApplyOptions{Log: log})
	})
}

// annotateImageID marks every workload's pod template with the image ID.
func annotateImageID(objs []*unstructured.Unstructured, id string) error {
	if id == "" {
		return nil
	}
	for _, o := range objs {
		if o.GetKind() != "DaemonSet" && o.GetKind() != "Deployment" {
			continue
		}
		if err := kube.SetTemplateAnnotation(o, imageIDAnnotation, strings.TrimPrefix(id, "sha256:")[:12]); err != nil {
			return err
		}
	}
	return nil
}
