//go:build e2e

package e2eutil

import (
	"fmt"
	"net/netip"
	"reflect"
	"sort"
	"strings"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/api/netstatus"
)

// NetworkStatus decodes the pod's k8s.v1.cni.cncf.io/network-status
// annotation; a pod without it is an error, because every pod our daemon
// set up gets one.
func NetworkStatus(pod *corev1.Pod) ([]nadv1.NetworkStatus, error) {
	raw, ok := pod.Annotations[api.NetworkStatusAnnotation]
	if !ok {
		return nil, fmt.Errorf("pod %s/%s has no %s annotation", pod.Namespace, pod.Name, api.NetworkStatusAnnotation)
	}
	st, err := netstatus.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return st, nil
}

// Agree checks that the two oracles tell the same story: every
// network-status entry with an interface names an interface that exists
// in the netns with the same MAC and exactly the same IPs, and every
// interface in the netns other than lo is reported. It returns every
// disagreement, not only the first.
func Agree(status []nadv1.NetworkStatus, ns Netns) []string {
	var problems []string
	reported := map[string]bool{}
	for _, s := range status {
		if s.Interface == "" {
			continue
		}
		if reported[s.Interface] {
			problems = append(problems, fmt.Sprintf("interface %s reported twice", s.Interface))
		}
		reported[s.Interface] = true
		link, ok := ns.Links[s.Interface]
		if !ok {
			problems = append(problems, fmt.Sprintf("status reports %s (network %s) but the netns has %v", s.Interface, s.Name, ns.Names()))
			continue
		}
		if !strings.EqualFold(s.Mac, link.MAC) {
			problems = append(problems, fmt.Sprintf("%s: status mac %q, netns mac %q", s.Interface, s.Mac, link.MAC))
		}
		if got, want := sortedIPs(s.IPs), link.IPs(); !reflect.DeepEqual(got, want) {
			problems = append(problems, fmt.Sprintf("%s: status ips %v, netns ips %v", s.Interface, got, want))
		}
	}
	for _, name := range ns.Names() {
		if !reported[name] {
			problems = append(problems, fmt.Sprintf("netns has %s, which network-status does not report", name))
		}
	}
	return problems
}

func sortedIPs(ips []string) []string {
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		// Entries carry bare IPs; normalise so "10.0.0.1" and a
		// differently spelled IPv6 compare equal.
		if a, err := netip.ParseAddr(ip); err == nil {
			ip = a.String()
		}
		out = append(out, ip)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

// Want is what one attachment must look like. Empty fields other than
// Interface and Network are not checked; IPs checks exact addresses,
// InPrefix checks each address lies in a range.
type Want struct {
	Interface string
	// Network is the entry's name: "<ns>/<nad>" for attachments, the
	// cluster network's CNI name for eth0 ("" skips the check).
	Network  string
	Default  bool
	IPs      []string
	InPrefix []netip.Prefix
	MAC      string
}

// Expect checks the network-status entries against wants, in order and
// with no extra entries, and returns every mismatch.
func Expect(status []nadv1.NetworkStatus, wants []Want) []string {
	var problems []string
	if len(status) != len(wants) {
		problems = append(problems, fmt.Sprintf("network-status has %d entries %v, want %d", len(status), entryNames(status), len(wants)))
	}
	for i, w := range wants {
		if i >= len(status) {
			break
		}
		s := status[i]
		if s.Interface != w.Interface {
			problems = append(problems, fmt.Sprintf("entry %d: interface %q, want %q", i, s.Interface, w.Interface))
		}
		if w.Network != "" && s.Name != w.Network {
			problems = append(problems, fmt.Sprintf("entry %d (%s): name %q, want %q", i, w.Interface, s.Name, w.Network))
		}
		if s.Default != w.Default {
			problems = append(problems, fmt.Sprintf("entry %d (%s): default %v, want %v", i, w.Interface, s.Default, w.Default))
		}
		if w.IPs != nil && !reflect.DeepEqual(sortedIPs(s.IPs), sortedIPs(w.IPs)) {
			problems = append(problems, fmt.Sprintf("entry %d (%s): ips %v, want %v", i, w.Interface, s.IPs, w.IPs))
		}
		if w.InPrefix != nil {
			problems = append(problems, inPrefixes(i, w, s.IPs)...)
		}
		if w.MAC != "" && !strings.EqualFold(s.Mac, w.MAC) {
			problems = append(problems, fmt.Sprintf("entry %d (%s): mac %q, want %q", i, w.Interface, s.Mac, w.MAC))
		}
	}
	return problems
}

func inPrefixes(i int, w Want, ips []string) []string {
	if len(ips) != len(w.InPrefix) {
		return []string{fmt.Sprintf("entry %d (%s): ips %v, want one in each of %v", i, w.Interface, ips, w.InPrefix)}
	}
	var problems []string
	for _, ip := range ips {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			problems = append(problems, fmt.Sprintf("entry %d (%s): ip %q: %v", i, w.Interface, ip, err))
			continue
		}
		in := false
		for _, p := range w.InPrefix {
			in = in || p.Contains(a)
		}
		if !in {
			problems = append(problems, fmt.Sprintf("entry %d (%s): ip %s outside %v", i, w.Interface, ip, w.InPrefix))
		}
	}
	return problems
}

func entryNames(status []nadv1.NetworkStatus) []string {
	var out []string
	for _, s := range status {
		out = append(out, s.Name+"@"+s.Interface)
	}
	return out
}

// Entry returns the status entry for ifname.
func Entry(status []nadv1.NetworkStatus, ifname string) (nadv1.NetworkStatus, bool) {
	for _, s := range status {
		if s.Interface == ifname {
			return s, true
		}
	}
	return nadv1.NetworkStatus{}, false
}
