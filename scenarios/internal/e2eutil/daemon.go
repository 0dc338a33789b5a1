//go:build e2e

package e2eutil

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/e2e-framework/klient/k8s"

	"github.com/multus-thick/multus-thick/lab/rollout"
)

// DaemonSet returns our daemon's DaemonSet.
func (l *Lab) DaemonSet(ctx context.Context) (*appsv1.DaemonSet, error) {
	ds := &appsv1.DaemonSet{}
	if err := l.Res.Get(ctx, l.S.DaemonSet, l.S.DaemonNamespace, ds); err != nil {
		return nil, fmt.Errorf("daemonset %s/%s: %w", l.S.DaemonNamespace, l.S.DaemonSet, err)
	}
	return ds, nil
}

// DaemonPods returns the daemon's pods, keyed by node.
func (l *Lab) DaemonPods(ctx context.Context) (map[string]corev1.Pod, error) {
	ds, err := l.DaemonSet(ctx)
	if err != nil {
		return nil, err
	}
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("daemonset selector: %w", err)
	}
	// The clientset, not l.Res: Resources.WithNamespace mutates the shared
	// value, which would scope every later list to this namespace.
	pods, err := l.Kube.CoreV1().Pods(l.S.DaemonNamespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("list daemon pods: %w", err)
	}
	out := map[string]corev1.Pod{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out[p.Spec.NodeName] = p
		}
	}
	return out, nil
}

// WaitDaemonRolledOut waits until the DaemonSet is rolled out (lab/rollout:
// the test `kubectl rollout status` makes).
func (l *Lab) WaitDaemonRolledOut(ctx context.Context, timeout time.Duration) error {
	return Until(ctx, timeout, func(ctx context.Context) (string, error) {
		ds, err := l.DaemonSet(ctx)
		if err != nil {
			return "", err
		}
		if done, progress := rollout.DaemonSet(ds); !done {
			return progress, nil
		}
		return "", nil
	})
}

// RestartDaemon starts a rolling restart (what `kubectl rollout restart`
// does: bump a pod-template annotation) and returns without waiting.
func (l *Lab) RestartDaemon(ctx context.Context) error {
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"multus-thick.e2e/restartedAt":%q}}}}}`, time.Now().UTC().Format(time.RFC3339Nano))
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: l.S.DaemonSet, Namespace: l.S.DaemonNamespace}}
	if err := l.Res.Patch(ctx, ds, k8s.Patch{PatchType: types.StrategicMergePatchType, Data: []byte(patch)}); err != nil {
		return fmt.Errorf("restart daemonset: %w", err)
	}
	return nil
}

// PatchDaemonConfig merges keys into daemon-config.json, rolls the daemon
// and waits for it. It returns a function that puts the original file back
// and rolls again.
func (l *Lab) PatchDaemonConfig(ctx context.Context, keys map[string]any, timeout time.Duration) (restore func(context.Context) error, err error) {
	cm := &corev1.ConfigMap{}
	if err := l.Res.Get(ctx, l.S.DaemonConfigMap, l.S.DaemonNamespace, cm); err != nil {
		return nil, fmt.Errorf("configmap %s/%s: %w", l.S.DaemonNamespace, l.S.DaemonConfigMap, err)
	}
	orig, ok := cm.Data[l.S.DaemonConfigKey]
	if !ok {
		return nil, fmt.Errorf("configmap %s has no key %s", cm.Name, l.S.DaemonConfigKey)
	}
	conf := map[string]any{}
	if err := json.Unmarshal([]byte(orig), &conf); err != nil {
		return nil, fmt.Errorf("configmap %s/%s: %w", cm.Name, l.S.DaemonConfigKey, err)
	}
	for k, v := range keys {
		conf[k] = v
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := l.setConfig(ctx, string(b), timeout); err != nil {
		return nil, err
	}
	return func(ctx context.Context) error { return l.setConfig(ctx, orig, timeout) }, nil
}

func (l *Lab) setConfig(ctx context.Context, data string, timeout time.Duration) error {
	cm := &corev1.ConfigMap{}
	if err := l.Res.Get(ctx, l.S.DaemonConfigMap, l.S.DaemonNamespace, cm); err != nil {
		return fmt.Errorf("configmap %s: %w", l.S.DaemonConfigMap, err)
	}
	cm.Data[l.S.DaemonConfigKey] = data
	if err := l.Res.Update(ctx, cm); err != nil {
		return fmt.Errorf("update configmap %s: %w", cm.Name, err)
	}
	// The daemon reads its config at start; a restart makes the change
	// take effect. Waiting for the ConfigMap volume to sync is not needed
	// because new pods mount the current data.
	if err := l.RestartDaemon(ctx); err != nil {
		return err
	}
	return l.WaitDaemonRolledOut(ctx, timeout)
}

// SetDaemonImage points the daemon's containers (init containers included)
// at image and waits for the rollout. It returns the previous image.
func (l *Lab) SetDaemonImage(ctx context.Context, image string, timeout time.Duration) (string, error) {
	ds, err := l.DaemonSet(ctx)
	if err != nil {
		return "", err
	}
	prev := ds.Spec.Template.Spec.Containers[0].Image
	for i := range ds.Spec.Template.Spec.Containers {
		if ds.Spec.Template.Spec.Containers[i].Image == prev {
			ds.Spec.Template.Spec.Containers[i].Image = image
		}
	}
	for i := range ds.Spec.Template.Spec.InitContainers {
		if ds.Spec.Template.Spec.InitContainers[i].Image == prev {
			ds.Spec.Template.Spec.InitContainers[i].Image = image
		}
	}
	if err := l.Res.Update(ctx, ds); err != nil {
		return prev, fmt.Errorf("update daemonset image: %w", err)
	}
	return prev, l.WaitDaemonRolledOut(ctx, timeout)
}

// DaemonLogLines returns the lines of the daemon's log on node, since
// since, that contain any of needles.
func (l *Lab) DaemonLogLines(ctx context.Context, node string, since time.Time, needles ...string) ([]string, error) {
	pods, err := l.DaemonPods(ctx)
	if err != nil {
		return nil, err
	}
	p, ok := pods[node]
	if !ok {
		return nil, fmt.Errorf("no daemon pod on node %s", node)
	}
	st := metav1.NewTime(since)
	raw, err := l.Kube.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: p.Spec.Containers[0].Name, SinceTime: &st}).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("logs of %s: %w", p.Name, err)
	}
	var out []string
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		for _, n := range needles {
			if strings.Contains(sc.Text(), n) {
				out = append(out, sc.Text())
				break
			}
		}
	}
	return out, nil
}

// daemonCgroupFile runs a shell snippet against the memory cgroup of the
// daemon container on node; $d is the cgroup directory. cgroup v1 (this
// lab's hosts) and v2 are both handled.
func (l *Lab) daemonCgroupFile(ctx context.Context, node, snippet string) (string, error) {
	pods, err := l.DaemonPods(ctx)
	if err != nil {
		return "", err
	}
	p, ok := pods[node]
	if !ok || len(p.Status.ContainerStatuses) == 0 {
		return "", fmt.Errorf("no running daemon pod on node %s", node)
	}
	_, id, ok := strings.Cut(p.Status.ContainerStatuses[0].ContainerID, "://")
	if !ok || id == "" {
		return "", fmt.Errorf("daemon pod %s has no container id yet", p.Name)
	}
	script := fmt.Sprintf(`d=$(find /sys/fs/cgroup/memory /sys/fs/cgroup -maxdepth 12 -type d -name '*%s*' 2>/dev/null | head -n1)
[ -n "$d" ] || { echo "no cgroup for %s" >&2; exit 1; }
%s`, id, id, snippet)
	return l.Nodes.Sh(ctx, node, script)
}

// ResetDaemonPeakMemory zeroes the peak-usage counter of the daemon's
// memory cgroup on node (cgroup v1 allows it; on v2 memory.peak is kept
// since container start, which a fresh daemon makes close enough).
func (l *Lab) ResetDaemonPeakMemory(ctx context.Context, node string) error {
	_, err := l.daemonCgroupFile(ctx, node, `[ -f "$d/memory.max_usage_in_bytes" ] && echo 0 > "$d/memory.max_usage_in_bytes"; true`)
	return err
}

// DaemonPeakMemory returns the daemon container's peak memory use on node
// in bytes, from its cgroup.
func (l *Lab) DaemonPeakMemory(ctx context.Context, node string) (int64, error) {
	out, err := l.daemonCgroupFile(ctx, node, `cat "$d/memory.max_usage_in_bytes" 2>/dev/null || cat "$d/memory.peak"`)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("daemon peak memory on %s: %q: %w", node, out, err)
	}
	return v, nil
}

// DaemonBeingReplaced reports whether the daemon on node is mid-restart:
// a daemon pod there is terminating, or not Ready yet.
func (l *Lab) DaemonBeingReplaced(ctx context.Context, node string) (bool, error) {
	ds, err := l.DaemonSet(ctx)
	if err != nil {
		return false, err
	}
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return false, err
	}
	pods, err := l.Kube.CoreV1().Pods(l.S.DaemonNamespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String(), FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return false, fmt.Errorf("list daemon pods on %s: %w", node, err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			return true, nil
		}
		ready := false
		for _, c := range p.Status.Conditions {
			ready = ready || (c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue)
		}
		if !ready {
			return true, nil
		}
	}
	return len(pods.Items) == 0, nil
}
