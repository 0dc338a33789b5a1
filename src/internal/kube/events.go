package kube

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/resolve"
)

// Event reasons recorded here (resolve's warnings bring their own).
const (
	ReasonAddedInterface = "AddedInterface"
	ReasonAddFailed      = "AddFailed"
)

type events struct{ rec record.EventRecorder }

var (
	_ attach.Events  = events{}
	_ resolve.Warner = events{}
)

// AddedInterface implements attach.Events, with upstream's message.
func (e events) AddedInterface(pod *corev1.Pod, ifname string, ips []string, network string) {
	if pod == nil {
		return
	}
	msg := fmt.Sprintf("Add %s %v", ifname, ips)
	if network != "" {
		msg += " from " + network
	}
	e.rec.Event(pod, corev1.EventTypeNormal, ReasonAddedInterface, msg)
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
