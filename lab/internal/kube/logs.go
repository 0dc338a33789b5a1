package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SaveLogs writes the logs of every container (init containers included)
// of the pods matching selector into dir, one file per container, plus the
// previous instance's log where a container restarted: that is usually the
// one that explains the restart. It returns the files written.
func (c *Client) SaveLogs(ctx context.Context, ns, selector, dir string) ([]string, error) {
	pods, err := c.Core.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list pods %s in %s: %w", selector, ns, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("log dir: %w", err)
	}
	var files []string
	var errs []error
	for _, p := range pods.Items {
		for _, cs := range containerStatuses(&p) {
			targets := []bool{false}
			if cs.RestartCount > 0 {
				targets = append(targets, true)
			}
			for _, previous := range targets {
				name := fmt.Sprintf("%s_%s.log", p.Name, cs.Name)
				if previous {
					name = fmt.Sprintf("%s_%s.previous.log", p.Name, cs.Name)
				}
				path := filepath.Join(dir, name)
				if err := c.saveLog(ctx, ns, p.Name, cs.Name, previous, path); err != nil {
					errs = append(errs, err)
					continue
				}
				files = append(files, path)
			}
		}
	}
	return files, errors.Join(errs...)
}

func containerStatuses(p *corev1.Pod) []corev1.ContainerStatus {
	return append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
}

func (c *Client) saveLog(ctx context.Context, ns, pod, container string, previous bool, path string) error {
	rc, err := c.Core.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Previous: previous}).Stream(ctx)
	if err != nil {
		return fmt.Errorf("logs of %s/%s %s: %w", ns, pod, container, err)
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return fmt.Errorf("logs of %s/%s %s: %w", ns, pod, container, err)
	}
	return f.Close()
}
