package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/api/netstatus"
	"github.com/multus-thick/multus-thick/src/internal/attach"
)

type statusWriter struct{ c *Client }

var _ attach.StatusWriter = statusWriter{}

// SetNetworkStatus implements attach.StatusWriter: one merge patch of
// pods/status that sets (or, for an empty list, removes) the annotation,
// with no read first. The patch carries the pod's UID, which the API
// server checks against the stored pod: a pod recreated under the same
// name rejects it, and a pod that is gone answers 404. Neither is an
// error: there is nothing to annotate. ref.UID is the UID of the pod
// object ADD looked up (a static pod's mirror UID, not the runtime's).
//
// Upstream's ClusterRole grants update but not patch on pods/status: when
// the patch is forbidden the daemon says so once and writes with a GET
// and an update from then on (until it restarts), so a user who keeps
// that role loses nothing but the saved request.
func (s statusWriter) SetNetworkStatus(ctx context.Context, ref attach.PodRef, statuses []nadv1.NetworkStatus) error {
	if s.c.patchForbidden.Load() {
		return s.UpdateNetworkStatus(ctx, ref, func([]nadv1.NetworkStatus) []nadv1.NetworkStatus { return statuses })
	}
	patch, err := statusPatch(ref.UID, statuses)
	if err != nil {
		return err
	}
	callCtx, cancel := context.WithTimeout(ctx, s.c.cfg.APITimeout)
	defer cancel()
	_, err = s.c.core.Pods(ref.Namespace).Patch(callCtx, ref.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status")
	switch {
	case apierrors.IsForbidden(err):
		// Only an update that succeeds where the patch was refused makes
		// the fallback stick: a policy refusing both is no role matter.
		if uerr := s.UpdateNetworkStatus(ctx, ref, func([]nadv1.NetworkStatus) []nadv1.NetworkStatus { return statuses }); uerr != nil {
			return uerr
		}
		if !s.c.patchForbidden.Swap(true) {
			s.c.log.Info("patch of pods/status forbidden (a role without the patch verb): network-status is written with a GET and an update",
				"error", err)
		}
		return nil
	case apierrors.IsNotFound(err):
		return nil
	case isUIDMismatch(err):
		s.c.log.Debug("pod recreated; network-status not written", "pod", ref.Namespace+"/"+ref.Name, "want", ref.UID)
		return nil
	case err != nil:
		return fmt.Errorf("write %s on pod %s/%s: %w", api.NetworkStatusAnnotation, ref.Namespace, ref.Name, err)
	}
	return nil
}

// statusPatch is the merge patch for SetNetworkStatus. The UID is left
// out when unknown (no precondition then, as before: the runtime sent
// none).
func statusPatch(uid string, statuses []nadv1.NetworkStatus) ([]byte, error) {
	var value any // JSON null deletes the key
	if len(statuses) > 0 {
		v, err := netstatus.Format(statuses)
		if err != nil {
			return nil, err
		}
		value = v
	}
	meta := map[string]any{"annotations": map[string]any{api.NetworkStatusAnnotation: value}}
	if uid != "" {
		meta["uid"] = uid
	}
	return json.Marshal(map[string]any{"metadata": meta})
}

// isUIDMismatch: the API server refuses a patch whose metadata.uid differs
// from the stored pod's (the field is immutable), which is how the UID
// precondition of a merge patch surfaces.
func isUIDMismatch(err error) bool {
	if !apierrors.IsInvalid(err) {
		return false
	}
	var se apierrors.APIStatus
	if !errors.As(err, &se) || se.Status().Details == nil {
		return false
	}
	for _, c := range se.Status().Details.Causes {
		if c.Field == "metadata.uid" {
			return true
		}
	}
	return false
}

// UpdateNetworkStatus implements attach.StatusWriter for the hot-plug
// merge (/delegate adds or removes one interface): a live GET (never the
// cache, whose copy may be stale), mutate, and UpdateStatus through the
// status subresource, retried on conflict. A pod that is gone, or was
// recreated with another UID, is not an error: there is nothing to
// annotate. An empty result removes the annotation.
func (s statusWriter) UpdateNetworkStatus(ctx context.Context, ref attach.PodRef, mutate func([]nadv1.NetworkStatus) []nadv1.NetworkStatus) error {
	pods := s.c.core.Pods(ref.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		callCtx, cancel := context.WithTimeout(ctx, s.c.cfg.APITimeout)
		defer cancel()
		pod, err := pods.Get(callCtx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !uidMatches(pod, ref) {
			s.c.log.Debug("pod recreated; network-status not written", "pod", ref.Namespace+"/"+ref.Name, "uid", pod.UID, "want", ref.UID)
			return nil
		}
		current, err := netstatus.Parse(pod.Annotations[api.NetworkStatusAnnotation])
		if err != nil {
			// A corrupt annotation is replaced, not merged into.
			s.c.log.Warn("ignoring unparsable network-status", "pod", ref.Namespace+"/"+ref.Name, "err", err)
		}
		next := mutate(current)
		if reflect.DeepEqual(next, current) && err == nil {
			return nil
		}
		if len(next) == 0 {
			if _, ok := pod.Annotations[api.NetworkStatusAnnotation]; !ok {
				return nil
			}
			delete(pod.Annotations, api.NetworkStatusAnnotation)
		} else {
			value, err := netstatus.Format(next)
			if err != nil {
				return err
			}
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[api.NetworkStatusAnnotation] = value
		}
		_, err = pods.UpdateStatus(callCtx, pod, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write %s on pod %s/%s: %w", api.NetworkStatusAnnotation, ref.Namespace, ref.Name, err)
	}
	return nil
}
