//go:build e2e

package e2eutil

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/e2e-framework/klient/wait"
	"sigs.k8s.io/e2e-framework/klient/wait/conditions"
)

// Poll is the interval of every wait in the suite.
const Poll = 500 * time.Millisecond

// WaitPodReady waits for the pod to be Ready and returns its fresh copy.
// A pod that can never start (ErrImageNeverPull and the like) still fails
// only at the timeout; the diagnostics print its events.
func (l *Lab) WaitPodReady(ctx context.Context, pod *corev1.Pod, timeout time.Duration) (*corev1.Pod, error) {
	err := wait.For(conditions.New(l.Res).PodReady(pod), wait.WithContext(ctx), wait.WithTimeout(timeout), wait.WithInterval(Poll))
	if err != nil {
		return nil, fmt.Errorf("pod %s/%s not ready within %s: %w", pod.Namespace, pod.Name, timeout, err)
	}
	fresh := &corev1.Pod{}
	if err := l.Res.Get(ctx, pod.Name, pod.Namespace, fresh); err != nil {
		return nil, fmt.Errorf("get pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return fresh, nil
}

// WaitPodGone waits until the pod object no longer exists (kubelet has
// torn the sandbox down, DEL included).
func (l *Lab) WaitPodGone(ctx context.Context, pod *corev1.Pod, timeout time.Duration) error {
	err := wait.For(conditions.New(l.Res).ResourceDeleted(pod), wait.WithContext(ctx), wait.WithTimeout(timeout), wait.WithInterval(Poll))
	if err != nil {
		return fmt.Errorf("pod %s/%s still present after %s: %w", pod.Namespace, pod.Name, timeout, err)
	}
	return nil
}

// WaitEvent waits for an event on the pod that match accepts and returns it.
func (l *Lab) WaitEvent(ctx context.Context, pod *corev1.Pod, timeout time.Duration, match func(corev1.Event) bool) (corev1.Event, error) {
	var found corev1.Event
	err := wait.For(func(ctx context.Context) (bool, error) {
		evs, err := l.PodEvents(ctx, pod.Namespace, pod.Name)
		if err != nil {
			return false, nil // transient API errors are retried until the timeout
		}
		for _, e := range evs {
			if match(e) {
				found = e
				return true, nil
			}
		}
		return false, nil
	}, wait.WithContext(ctx), wait.WithTimeout(timeout), wait.WithInterval(Poll))
	if err != nil {
		return found, fmt.Errorf("no matching event on pod %s/%s within %s: %w", pod.Namespace, pod.Name, timeout, err)
	}
	return found, nil
}

// Until polls cond (which returns a description of what is still wrong,
// "" when done) until it is done or timeout, and returns the last
// description in the error, so a wait that times out says why.
func Until(ctx context.Context, timeout time.Duration, cond func(ctx context.Context) (string, error)) error {
	last := ""
	err := wait.For(func(ctx context.Context) (bool, error) {
		msg, err := cond(ctx)
		if err != nil {
			// A check cut off by the wait's own deadline says nothing new;
			// keep the previous reason, which is why the wait timed out.
			if ctx.Err() == nil || last == "" {
				last = err.Error()
			}
			return false, nil
		}
		last = msg
		return msg == "", nil
	}, wait.WithContext(ctx), wait.WithTimeout(timeout), wait.WithInterval(Poll))
	if err != nil {
		return fmt.Errorf("%w: %s", err, last)
	}
	return nil
}

// WaitNamespaceGone waits until namespace ns is fully deleted, so that the
// next scenario's node-side checks do not see its pods being torn down.
func (l *Lab) WaitNamespaceGone(ctx context.Context, ns string, timeout time.Duration) error {
	return Until(ctx, timeout, func(ctx context.Context) (string, error) {
		obj := &corev1.Namespace{}
		err := l.Res.Get(ctx, ns, "", obj)
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("namespace %s is %s", ns, obj.Status.Phase), nil
	})
}

// IsWarningWith matches a Warning event whose message contains every one
// of parts (case-insensitively).
func IsWarningWith(parts ...string) func(corev1.Event) bool {
	return func(e corev1.Event) bool {
		if e.Type != corev1.EventTypeWarning {
			return false
		}
		msg := strings.ToLower(e.Message)
		for _, p := range parts {
			if !strings.Contains(msg, strings.ToLower(p)) {
				return false
			}
		}
		return true
	}
}
