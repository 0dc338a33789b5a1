package kube

import (
	"context"
	"fmt"
	"reflect"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/api/netstatus"
	"github.com/multus-thick/multus-thick/src/internal/attach"
)

type statusWriter struct{ c *Client }

var _ attach.StatusWriter = statusWriter{}

// UpdateNetworkStatus implements attach.StatusWriter: a live GET (never
// the cache, whose copy may be stale), mutate, and UpdateStatus through
// the status subresource, retried on conflict. A pod that is gone, or was
// recreated with another UID, is not an error: there is nothing to
// annotate. An empty result removes the annotation.
func (s statusWriter) UpdateNetworkStatus(ctx context.Context, ref attach.PodRef, mutate func([]nadv1.NetworkStatus) []nadv1.NetworkStatus) error {
	pods := s.c.core.CoreV1().Pods(ref.Namespace)
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
