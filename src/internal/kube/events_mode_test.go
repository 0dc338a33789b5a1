package kube

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"

	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/config"
)

// TestEventsModes: what one ADD of two interfaces records in each mode,
// driven as attach drives it (AddedInterface per interface, then
// AddedInterfaces once); AddFailed is sent whatever the mode.
func TestEventsModes(t *testing.T) {
	added := []attach.AddedInterface{
		{IfName: "eth0", IPs: []string{"10.244.1.5/24"}, Network: "cbr0"},
		{IfName: "net1", IPs: []string{"10.1.0.7/24", "fd00::7/64"}, Network: "ns1/macvlan"},
	}
	perInterface := []string{
		"Normal AddedInterface Add eth0 [10.244.1.5/24] from cbr0",
		"Normal AddedInterface Add net1 [10.1.0.7/24 fd00::7/64] from ns1/macvlan",
	}
	failed := "Warning AddFailed network \"ns1/x\" (type macvlan) failed with CNI error code 11: boom"
	cases := []struct {
		mode EventsMode
		want []string
	}{
		{"", perInterface},
		{EventsPerInterface, perInterface},
		{EventsPerPod, []string{"Normal AddedInterface Add eth0 [10.244.1.5/24] from cbr0, net1 [10.1.0.7/24 fd00::7/64] from ns1/macvlan"}},
		{EventsNone, nil},
	}
	for _, tc := range cases {
		t.Run(string(tc.mode), func(t *testing.T) {
			rec := &eventLog{}
			ev := events{rec: rec, mode: tc.mode}
			pod := &corev1.Pod{}
			for _, a := range added {
				ev.AddedInterface(pod, a.IfName, a.IPs, a.Network)
			}
			ev.AddedInterfaces(pod, added)
			ev.AddFailed(pod, "ns1/x", "macvlan", 11, errString("boom"))
			got := rec.lines
			want := append(append([]string{}, tc.want...), failed)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("events\n got  %q\n want %q", got, want)
			}
		})
	}
}

// TestEventsModeOfConfig: every value the daemon config accepts is a
// mode the client takes, and an unknown one is refused by name.
func TestEventsModeOfConfig(t *testing.T) {
	for _, v := range []string{config.EventsPerInterface, config.EventsPerPod, config.EventsNone} {
		if _, err := New(Config{REST: &rest.Config{Host: "http://127.0.0.1:1"}, Events: EventsMode(v)}, nil); err != nil {
			t.Errorf("mode %q: %v", v, err)
		}
	}
	_, err := New(Config{REST: &rest.Config{Host: "http://127.0.0.1:1"}, Events: "perNode"}, nil)
	if err == nil || !strings.Contains(err.Error(), `"perNode"`) {
		t.Errorf("unknown mode: err = %v, want it named", err)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// eventLog records events as "<type> <reason> <message>".
type eventLog struct{ lines []string }

func (l *eventLog) Event(_ *corev1.Pod, eventType, reason, message string) {
	l.lines = append(l.lines, eventType+" "+reason+" "+message)
}
