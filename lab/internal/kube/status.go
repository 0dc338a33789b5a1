package kube

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/api/netstatus"
)

var nadGVR = schema.GroupVersionResource{Group: "k8s.cni.cncf.io", Version: "v1", Resource: "network-attachment-definitions"}

// Report is what `make lab-status` shows.
type Report struct {
	Nodes       []NodeRow
	Daemons     []PodRow
	NADs        []NADRow
	Attachments []AttachRow
	Guard       string // the guard's reject counter, or why it is unknown
	Problems    []string
}

// NodeRow is one node.
type NodeRow struct{ Name, Status, Version, InternalIP string }

// PodRow is one daemon pod.
type PodRow struct {
	Name, Node, Phase, Ready string
	Restarts                 int32
}

// NADRow is one NetworkAttachmentDefinition and the gist of its config.
type NADRow struct{ Namespace, Name, Type, Master, IPAM string }

// AttachRow is one interface of one pod, from its network-status annotation.
type AttachRow struct {
	Namespace, Pod, Node, Network, Interface, IPs, MAC string
	Default                                            bool
}

// Collect gathers the report. A part that cannot be read is recorded in
// Problems and the rest is still collected: a half-broken lab is exactly when
// status matters.
func (c *Client) Collect(ctx context.Context, daemonNS, daemonSelector string) Report {
	var r Report
	if nodes, err := c.Core.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		r.Problems = append(r.Problems, "nodes: "+err.Error())
	} else {
		for _, n := range nodes.Items {
			r.Nodes = append(r.Nodes, nodeRow(&n))
		}
	}
	if pods, err := c.Core.CoreV1().Pods(daemonNS).List(ctx, metav1.ListOptions{LabelSelector: daemonSelector}); err != nil {
		r.Problems = append(r.Problems, "daemon pods: "+err.Error())
	} else {
		for _, p := range pods.Items {
			r.Daemons = append(r.Daemons, podRow(&p))
		}
	}
	if nads, err := c.Dynamic.Resource(nadGVR).List(ctx, metav1.ListOptions{}); err != nil {
		r.Problems = append(r.Problems, "NADs: "+err.Error())
	} else {
		for _, n := range nads.Items {
			cfg, _, _ := unstructured.NestedString(n.Object, "spec", "config")
			r.NADs = append(r.NADs, nadRow(n.GetNamespace(), n.GetName(), cfg))
		}
	}
	if pods, err := c.Core.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); err != nil {
		r.Problems = append(r.Problems, "pods: "+err.Error())
	} else {
		rows, problems := attachments(pods.Items)
		r.Attachments, r.Problems = rows, append(r.Problems, problems...)
	}
	return r
}

func nodeRow(n *corev1.Node) NodeRow {
	row := NodeRow{Name: n.Name, Status: "NotReady", Version: n.Status.NodeInfo.KubeletVersion}
	if nodeReady(n) {
		row.Status = "Ready"
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			row.InternalIP = a.Address
		}
	}
	return row
}

func podRow(p *corev1.Pod) PodRow {
	row := PodRow{Name: p.Name, Node: p.Spec.NodeName, Phase: string(p.Status.Phase)}
	ready := 0
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Ready {
			ready++
		}
		row.Restarts += cs.RestartCount
	}
	row.Ready = fmt.Sprintf("%d/%d", ready, len(p.Spec.Containers))
	return row
}

// nadRow summarises a NAD's config; a config that is not JSON is shown as
// such rather than hidden, since broken NADs are lab fixtures too.
func nadRow(ns, name, config string) NADRow {
	row := NADRow{Namespace: ns, Name: name}
	var c struct {
		Type   string `json:"type"`
		Master string `json:"master"`
		IPAM   struct {
			Type string `json:"type"`
		} `json:"ipam"`
		Plugins []struct {
			Type   string `json:"type"`
			Master string `json:"master"`
			IPAM   struct {
				Type string `json:"type"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	switch {
	case strings.TrimSpace(config) == "":
		row.Type = "(empty: confDir file)"
	case json.Unmarshal([]byte(config), &c) != nil:
		row.Type = "(invalid JSON)"
	case len(c.Plugins) > 0:
		var types []string
		for _, p := range c.Plugins {
			types = append(types, p.Type)
		}
		row.Type = strings.Join(types, ",")
		row.Master, row.IPAM = c.Plugins[0].Master, c.Plugins[0].IPAM.Type
	default:
		row.Type, row.Master, row.IPAM = c.Type, c.Master, c.IPAM.Type
	}
	return row
}

// attachments lists the interfaces of pods that asked for extra networks
// or got more than the cluster network.
func attachments(pods []corev1.Pod) ([]AttachRow, []string) {
	var rows []AttachRow
	var problems []string
	for _, p := range pods {
		raw, ok := p.Annotations[api.NetworkStatusAnnotation]
		_, asked := p.Annotations[api.NetworksAnnotation]
		if !ok {
			if asked {
				problems = append(problems, fmt.Sprintf("pod %s/%s asks for networks but has no network-status yet", p.Namespace, p.Name))
			}
			continue
		}
		st, err := netstatus.Parse(raw)
		if err != nil {
			problems = append(problems, fmt.Sprintf("pod %s/%s: %v", p.Namespace, p.Name, err))
			continue
		}
		if !asked && len(st) < 2 {
			continue
		}
		for _, s := range st {
			rows = append(rows, AttachRow{
				Namespace: p.Namespace, Pod: p.Name, Node: p.Spec.NodeName, Network: s.Name,
				Interface: s.Interface, IPs: strings.Join(s.IPs, ","), MAC: s.Mac, Default: s.Default,
			})
		}
	}
	slices.SortStableFunc(rows, func(a, b AttachRow) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Pod, b.Pod))
	})
	return rows, problems
}

// Render writes the report as tables.
func (r Report) Render(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	section := func(title string, header string, n int) {
		fmt.Fprintf(tw, "\n%s (%d)\n", title, n)
		if n > 0 {
			fmt.Fprintln(tw, header)
		}
	}
	fmt.Fprintf(tw, "EGRESS GUARD\t%s\n", r.Guard)
	section("NODES", "NAME\tSTATUS\tVERSION\tINTERNAL-IP", len(r.Nodes))
	for _, n := range r.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Name, n.Status, n.Version, n.InternalIP)
	}
	section("MULTUS DAEMON PODS", "NAME\tNODE\tPHASE\tREADY\tRESTARTS", len(r.Daemons))
	for _, p := range r.Daemons {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", p.Name, p.Node, p.Phase, p.Ready, p.Restarts)
	}
	section("NETWORK ATTACHMENT DEFINITIONS", "NAMESPACE\tNAME\tTYPE\tMASTER\tIPAM", len(r.NADs))
	for _, n := range r.NADs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.Namespace, n.Name, n.Type, dash(n.Master), dash(n.IPAM))
	}
	section("POD ATTACHMENTS", "NAMESPACE\tPOD\tNODE\tNETWORK\tIFACE\tIPS\tMAC\tDEFAULT", len(r.Attachments))
	for _, a := range r.Attachments {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\n", a.Namespace, a.Pod, a.Node, a.Network, dash(a.Interface), dash(a.IPs), dash(a.MAC), a.Default)
	}
	if len(r.Problems) > 0 {
		fmt.Fprintf(tw, "\nPROBLEMS (%d)\n", len(r.Problems))
		for _, p := range r.Problems {
			fmt.Fprintf(tw, "%s\n", p)
		}
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
