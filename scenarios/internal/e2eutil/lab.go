//go:build e2e

package e2eutil

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/e2e-framework/klient"
	"sigs.k8s.io/e2e-framework/klient/k8s/resources"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
)

// Lab is the suite's handle on the cluster: typed resources for
// create/get/wait, a clientset for logs and events, and the node runner.
type Lab struct {
	S     Settings
	Res   *resources.Resources
	Kube  kubernetes.Interface
	Nodes Nodes
}

// New connects to the cluster cfg points at. run serves the node-side
// checks when they go through docker (s.NodeAccess).
func New(cfg *envconf.Config, s Settings, run Runner) (*Lab, error) {
	// The e2e-framework's resources use client-go's scheme; NADs must be in
	// it to be created and read as typed objects.
	if err := nadv1.AddToScheme(scheme.Scheme); err != nil {
		return nil, fmt.Errorf("register NAD types: %w", err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.KubeconfigFile())
	if err != nil {
		return nil, fmt.Errorf("lab kubeconfig %s: %w", cfg.KubeconfigFile(), err)
	}
	// client-go's default 5 QPS throttles the suite's own polling once a
	// few dozen pods are waited on together; the lab's API server is ours.
	rc.QPS, rc.Burst = 50, 100
	client, err := klient.New(rc)
	if err != nil {
		return nil, fmt.Errorf("lab client: %w", err)
	}
	cfg.WithClient(client)
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("lab clientset: %w", err)
	}
	l := &Lab{S: s, Res: client.Resources(), Kube: kube, Nodes: Nodes{Shell: DockerShell{Run: run}}}
	if s.NodeAccess == NodeAccessPod {
		// A Resources value of its own: WithNamespace on a shared one would
		// scope the scenarios' calls too.
		l.Nodes.Shell = &PodShell{Res: client.Resources(), Namespace: "mt-" + s.RunID + "-nodes",
			Image: s.NodeImage, Busybox: s.Busybox, RunID: s.RunID, PullPolicy: corev1.PullPolicy(s.PullPolicy)}
	}
	return l, nil
}

// Workers returns the names of the schedulable worker nodes, sorted, and
// fails unless there are at least two (several scenarios cross nodes).
func (l *Lab) Workers(ctx context.Context) ([]string, error) {
	var nodes corev1.NodeList
	if err := l.Res.List(ctx, &nodes); err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	var out []string
	for _, n := range nodes.Items {
		if _, cp := n.Labels["node-role.kubernetes.io/control-plane"]; cp {
			continue
		}
		out = append(out, n.Name)
	}
	sort.Strings(out)
	if len(out) < 2 {
		return out, fmt.Errorf("need 2 worker nodes, found %v", out)
	}
	return out, nil
}

// Exec runs a busybox applet in the pod's first container and returns
// stdout.
func (l *Lab) Exec(ctx context.Context, pod *corev1.Pod, applet string, args ...string) (string, error) {
	cmd := append([]string{l.S.Busybox, applet}, args...)
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := l.Res.ExecInPod(ctx, pod.Namespace, pod.Name, pod.Spec.Containers[0].Name, cmd, &out, &errb); err != nil {
		return out.String(), fmt.Errorf("exec %v in %s/%s: %w (stderr: %s)", cmd, pod.Namespace, pod.Name, err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// inspectScript prints, in one exec, every interface's MAC, the addresses
// and the IPv4 routes, separated by marker lines. Debian's busybox-static
// runs applets from its own sh without PATH lookups, so the image needs
// nothing but the one binary.
const inspectScript = `for i in /sys/class/net/*; do echo "${i##*/} $(cat $i/address)"; done
echo '--addr'; ip -o addr show; echo '--route'; ip route show`

// Inspect reads the pod's netns from inside the pod: the MAC of every
// interface from /sys/class/net, the addresses and the IPv4 routes.
func (l *Lab) Inspect(ctx context.Context, pod *corev1.Pod) (Netns, error) {
	out, err := l.Exec(ctx, pod, "sh", "-c", inspectScript)
	if err != nil {
		return Netns{}, err
	}
	n, err := parseInspect(out)
	if err != nil {
		return n, fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return n, nil
}

// Ping sends one echo request from pod to ip, through dev when it is set.
func (l *Lab) Ping(ctx context.Context, pod *corev1.Pod, ip, dev string) error {
	args := []string{"-c", "1", "-W", "2"}
	if dev != "" {
		args = append(args, "-I", dev)
	}
	_, err := l.Exec(ctx, pod, "ping", append(args, ip)...)
	return err
}

// PodEvents returns the events whose involved object is the pod, oldest
// first.
func (l *Lab) PodEvents(ctx context.Context, ns, name string) ([]corev1.Event, error) {
	list, err := l.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=Pod,involvedObject.name=" + name})
	if err != nil {
		return nil, fmt.Errorf("events of %s/%s: %w", ns, name, err)
	}
	ev := list.Items
	sort.SliceStable(ev, func(i, j int) bool { return eventTime(ev[i]).Before(eventTime(ev[j])) })
	return ev, nil
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// Close releases what the suite made for itself outside the scenarios'
// namespaces (the node pods of MT_E2E_NODE_ACCESS=pod).
func (l *Lab) Close(ctx context.Context) error {
	if ps, ok := l.Nodes.Shell.(*PodShell); ok {
		return ps.Close(ctx)
	}
	return nil
}
