//go:build e2e

package e2eutil

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/klient/k8s/resources"
)

// nodePodTimeout bounds the start of one node pod (the image is expected
// on the node already, as every image of the suite is).
const nodePodTimeout = 2 * time.Minute

// PodShell reaches nodes through one privileged pod per node, for clusters
// whose nodes are not docker containers on this machine
// (MT_E2E_NODE_ACCESS=pod). The pod shares the node's PID and network
// namespaces and mounts its root at /host; scripts run under
// `chroot /host sh -c`, so they see the node's own files, tools and /proc,
// exactly as `docker exec` into a kind node does. The pods are created on
// first use, in their own namespace, and removed by Close.
type PodShell struct {
	Res       *resources.Resources
	Namespace string
	Image     string
	Busybox   string
	RunID     string
	// PullPolicy of the node pods (the suite's, Never on the lab).
	PullPolicy corev1.PullPolicy

	mu     sync.Mutex
	nsDone bool
	pods   map[string]*corev1.Pod // by node
}

var _ Shell = (*PodShell)(nil)

// Sh implements Shell.
func (p *PodShell) Sh(ctx context.Context, node, script string) (string, error) {
	pod, err := p.podOn(ctx, node)
	if err != nil {
		return "", fmt.Errorf("node %s: %w", node, err)
	}
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := []string{p.Busybox, "chroot", "/host", "sh", "-c", script}
	if err := p.Res.ExecInPod(ctx, pod.Namespace, pod.Name, pod.Spec.Containers[0].Name, cmd, &out, &errb); err != nil {
		return out.String(), fmt.Errorf("node %s (pod %s/%s): %w: %s", node, pod.Namespace, pod.Name, err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// podOn returns the Ready node pod on node, creating it the first time.
// Calls for different nodes may run at once; each node's pod is made once.
func (p *PodShell) podOn(ctx context.Context, node string) (*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pod, ok := p.pods[node]; ok {
		return pod, nil
	}
	if !p.nsDone {
		// Pod Security admission, where a cluster enforces it, must let a
		// privileged host pod in.
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p.Namespace, Labels: map[string]string{
			"multus-thick.e2e/run":               p.RunID,
			"pod-security.kubernetes.io/enforce": "privileged",
		}}}
		if err := p.Res.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create namespace %s: %w", p.Namespace, err)
		}
		p.nsDone = true
	}
	pod := NodePod(p.Namespace, node, p.Image, p.Busybox)
	pod.Spec.Containers[0].ImagePullPolicy = p.PullPolicy
	if err := p.Res.Create(ctx, pod); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create node pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	err := Until(ctx, nodePodTimeout, func(ctx context.Context) (string, error) {
		cur := &corev1.Pod{}
		if err := p.Res.Get(ctx, pod.Name, pod.Namespace, cur); err != nil {
			return "", err
		}
		for _, c := range cur.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return "", nil
			}
		}
		return fmt.Sprintf("node pod %s is %s", pod.Name, cur.Status.Phase), nil
	})
	if err != nil {
		return nil, err
	}
	if p.pods == nil {
		p.pods = map[string]*corev1.Pod{}
	}
	p.pods[node] = pod
	return pod, nil
}

// Close deletes the node pods' namespace, if one was made.
func (p *PodShell) Close(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.nsDone {
		return nil
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p.Namespace}}
	if err := p.Res.Delete(ctx, ns); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete namespace %s: %w", p.Namespace, err)
	}
	p.nsDone, p.pods = false, nil
	return nil
}

// NodePod is the pod PodShell runs on node: pinned by spec.nodeName (no
// scheduler, so a cordoned or tainted node is reached too), tolerating
// every taint, privileged, in the host's PID and network namespaces, with
// the node's root filesystem at /host. It sleeps; the checks are execs.
func NodePod(ns, node, image, busybox string) *corev1.Pod {
	hostRoot := corev1.HostPathDirectory
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "node-shell-" + node,
			Namespace: ns,
			Labels:    map[string]string{"app.kubernetes.io/name": "mt-e2e-node-shell"},
		},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			HostPID:                       true,
			HostNetwork:                   true,
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			TerminationGracePeriodSeconds: ref[int64](1),
			AutomountServiceAccountToken:  ref(false),
			Containers: []corev1.Container{{
				Name:            "shell",
				Image:           image,
				ImagePullPolicy: corev1.PullNever,
				Command:         []string{busybox, "sleep", "2147483647"},
				SecurityContext: &corev1.SecurityContext{Privileged: ref(true)},
				VolumeMounts:    []corev1.VolumeMount{{Name: "host", MountPath: "/host"}},
			}},
			Volumes: []corev1.Volume{{
				Name:         "host",
				VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/", Type: &hostRoot}},
			}},
		},
	}
}

func ref[T any](v T) *T { return &v }
