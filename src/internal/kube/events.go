package kube

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/resolve"
)

// Event reasons recorded here (resolve's warnings bring their own).
const (
	ReasonAddedInterface = "AddedInterface"
	ReasonAddFailed      = "AddFailed"
)

// EventsMode is how a successful ADD is reported (daemon-config key
// addedInterfaceEvents): each event is one API request.
type EventsMode string

const (
	// EventsPerInterface is upstream's: one AddedInterface event per
	// interface, sent as each delegate succeeds (the default).
	EventsPerInterface EventsMode = "perInterface"
	// EventsPerPod is one AddedInterface event per successful ADD, its
	// message listing every interface with its IPs and network.
	EventsPerPod EventsMode = "perPod"
	// EventsNone sends no AddedInterface event (AddFailed and warnings stay).
	EventsNone EventsMode = "none"
)

func (m EventsMode) valid() bool {
	switch m {
	case "", EventsPerInterface, EventsPerPod, EventsNone:
		return true
	}
	return false
}

// eventer queues one event about a pod (recorder.Recorder).
type eventer interface {
	Event(pod *corev1.Pod, eventType, reason, message string)
}

type events struct {
	rec  eventer
	mode EventsMode
}

var (
	_ attach.Events  = events{}
	_ resolve.Warner = events{}
)

// AddedInterface implements attach.Events, with upstream's message.
// Sent in EventsPerInterface mode only.
func (e events) AddedInterface(pod *corev1.Pod, ifname string, ips []string, network string) {
	if pod == nil || (e.mode != "" && e.mode != EventsPerInterface) {
		return
	}
	e.rec.Event(pod, corev1.EventTypeNormal, ReasonAddedInterface, "Add "+interfaceText(ifname, ips, network))
}

// AddedInterfaces implements attach.Events: in EventsPerPod mode, one
// AddedInterface event for the whole ADD, "Add eth0 [...] from a, net1
// [...] from b", the reason and wording of the per-interface events.
func (e events) AddedInterfaces(pod *corev1.Pod, added []attach.AddedInterface) {
	if pod == nil || e.mode != EventsPerPod || len(added) == 0 {
		return
	}
	e.rec.Event(pod, corev1.EventTypeNormal, ReasonAddedInterface, perPodMessage(added))
}

func perPodMessage(added []attach.AddedInterface) string {
	parts := make([]string, 0, len(added))
	for _, a := range added {
		parts = append(parts, interfaceText(a.IfName, a.IPs, a.Network))
	}
	return "Add " + strings.Join(parts, ", ")
}

// interfaceText is upstream's "<ifname> [<ips>] from <network>".
func interfaceText(ifname string, ips []string, network string) string {
	s := fmt.Sprintf("%s %v", ifname, ips)
	if network != "" {
		s += " from " + network
	}
	return s
}

// AddFailed implements attach.Events.
func (e events) AddFailed(pod *corev1.Pod, network, delegateType string, code uint, err error) {
	if pod == nil {
		return
	}
	e.rec.Event(pod, corev1.EventTypeWarning, ReasonAddFailed, addFailedMessage(network, delegateType, code, err))
}

// addFailedMessage names the delegate when one failed; failures before any
// delegate ran (network selection, interface names, default routes) carry
// no network, and the message says so instead of printing empty fields.
func addFailedMessage(network, delegateType string, code uint, err error) string {
	if network == "" {
		return fmt.Sprintf("ADD failed before any delegate ran (CNI error code %d): %v", code, err)
	}
	return fmt.Sprintf("network %q (type %s) failed with CNI error code %d: %v", network, delegateType, code, err)
}

// Warning implements resolve.Warner.
func (e events) Warning(pod *corev1.Pod, reason, message string) {
	if pod == nil {
		return
	}
	e.rec.Event(pod, corev1.EventTypeWarning, reason, message)
}
