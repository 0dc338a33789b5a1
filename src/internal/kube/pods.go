package kube

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multus-thick/multus-thick/src/internal/attach"
)

// cachePollInterval is how often ADD re-reads the pod cache while waiting
// for a pod the runtime knows but the informer has not delivered yet.
const cachePollInterval = 50 * time.Millisecond

// configSourceAnnotation marks static pods (value other than "api").
const configSourceAnnotation = "kubernetes.io/config.source"

type podSource struct{ c *Client }

var _ attach.PodSource = podSource{}

// GetPod implements attach.PodSource (§4.1): the cache first (ADD waits up
// to PodLookupTimeout for the pod, or for its new UID after a quick
// recreate), then one live GET bounded by APITimeout.
//
// On DEL (and CHECK) a missing pod is not waited for. On DEL every
// failure, a recreated pod included, wraps attach.ErrPodNotFound: DEL must
// go on from its cache rather than fail because the API is unreachable.
func (s podSource) GetPod(ctx context.Context, ref attach.PodRef, op attach.Op) (*corev1.Pod, error) {
	if pod := s.fromCache(ctx, ref, op); pod != nil {
		return pod, nil
	}
	getCtx, cancel := context.WithTimeout(ctx, s.c.cfg.APITimeout)
	defer cancel()
	live, err := s.c.core.Pods(ref.Namespace).Get(getCtx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("pod %s/%s: %w", ref.Namespace, ref.Name, attach.ErrPodNotFound)
	case err != nil && op == attach.OpDel:
		return nil, fmt.Errorf("pod %s/%s: %w: %w", ref.Namespace, ref.Name, attach.ErrPodNotFound, err)
	case err != nil:
		return nil, fmt.Errorf("error waiting for pod %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	if !uidMatches(live, ref) {
		if op == attach.OpDel {
			return nil, fmt.Errorf("pod %s/%s was recreated (UID %q, runtime sent %q): %w",
				ref.Namespace, ref.Name, live.UID, ref.UID, attach.ErrPodNotFound)
		}
		return nil, fmt.Errorf("pod %s/%s: expected pod UID %q but got %q from Kube API",
			ref.Namespace, ref.Name, ref.UID, live.UID)
	}
	return trimmed(live), nil
}

// fromCache returns the cached pod when it matches ref; on ADD it polls
// until PodLookupTimeout. It returns nil to fall back to the live GET.
func (s podSource) fromCache(ctx context.Context, ref attach.PodRef, op attach.Op) *corev1.Pod {
	// An unsynced cache (API down at start) would only make ADD wait for
	// nothing; go straight to the API.
	if !s.c.podInformer.HasSynced() {
		return nil
	}
	lookup := func() *corev1.Pod {
		pod, ok := cached[*corev1.Pod](s.c.podInformer, ref.Namespace, ref.Name)
		if !ok || !uidMatches(pod, ref) {
			return nil
		}
		return pod.DeepCopy()
	}
	if pod := lookup(); pod != nil || op != attach.OpAdd {
		return pod
	}
	pollCtx, cancel := context.WithTimeout(ctx, s.c.cfg.PodLookupTimeout)
	defer cancel()
	tick := time.NewTicker(cachePollInterval)
	defer tick.Stop()
	for {
		select {
		case <-pollCtx.Done():
			return nil
		case <-tick.C:
			if pod := lookup(); pod != nil {
				return pod
			}
		}
	}
}

// uidMatches: no UID from the runtime, or a static pod (whose mirror pod
// has another UID), always match.
func uidMatches(pod *corev1.Pod, ref attach.PodRef) bool {
	return ref.UID == "" || string(pod.UID) == ref.UID || isStatic(pod)
}

func isStatic(pod *corev1.Pod) bool {
	src, ok := pod.Annotations[configSourceAnnotation]
	return ok && src != "api"
}
