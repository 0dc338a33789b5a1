//go:build e2e

package e2eutil

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Logger is the part of *testing.T the diagnostics need.
type Logger interface {
	Logf(format string, args ...any)
}

// Diagnose prints, for every pod in namespace ns: its phase and node, its
// events, and the lines of the daemon's log on its node since since that
// mention it. It is called when a scenario failed, before its namespace
// is deleted.
func (l *Lab) Diagnose(ctx context.Context, log Logger, ns string, since time.Time) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	pods, err := l.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		log.Logf("diagnose %s: list pods: %v", ns, err)
		return
	}
	for _, p := range pods.Items {
		var b strings.Builder
		fmt.Fprintf(&b, "pod %s/%s node=%s phase=%s\n", ns, p.Name, p.Spec.NodeName, p.Status.Phase)
		evs, err := l.PodEvents(ctx, ns, p.Name)
		if err != nil {
			fmt.Fprintf(&b, "  events: %v\n", err)
		}
		for _, e := range evs {
			fmt.Fprintf(&b, "  event %s %s x%d: %s\n", e.Type, e.Reason, max(e.Count, 1), e.Message)
		}
		if p.Spec.NodeName != "" {
			// The daemon logs the pod as "<ns>/<name>" or with separate
			// namespace/name fields; the name alone catches both.
			lines, err := l.DaemonLogLines(ctx, p.Spec.NodeName, since, p.Name)
			if err != nil {
				fmt.Fprintf(&b, "  daemon log: %v\n", err)
			}
			for _, line := range lines {
				fmt.Fprintf(&b, "  daemon: %s\n", line)
			}
		}
		log.Logf("%s", b.String())
	}
}

// ExportDaemonLogs writes every daemon pod's full log to dir/<node>.log
// (make repro and CI keep them as artifacts).
func (l *Lab) ExportDaemonLogs(ctx context.Context, dir string) error {
	pods, err := l.DaemonPods(ctx)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("artifacts dir: %w", err)
	}
	for node, p := range pods {
		raw, err := l.Kube.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: p.Spec.Containers[0].Name}).DoRaw(ctx)
		if err != nil {
			return fmt.Errorf("logs of %s: %w", p.Name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "daemon-"+node+".log"), raw, 0o644); err != nil {
			return fmt.Errorf("write daemon log: %w", err)
		}
	}
	return nil
}
