package repro

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// PodOutcome is how one pod of the run ended.
type PodOutcome struct {
	Name    string `json:"name"`
	Outcome string `json:"outcome"` // ready | failed | timeout
	Message string `json:"message,omitempty"`
}

// Pod outcomes.
const (
	OutcomeReady   = "ready"
	OutcomeFailed  = "failed"
	OutcomeTimeout = "timeout"
)

// Failure is the first failing delegate call.
type Failure struct {
	Index       int       `json:"index"` // 1-based position among the recorded calls
	Dir         string    `json:"dir"`   // the call's directory, relative to the evidence folder
	Command     string    `json:"command"`
	Type        string    `json:"type"`
	ContainerID string    `json:"containerID"`
	IfName      string    `json:"ifname"`
	Start       time.Time `json:"start"`
	ExitCode    *int      `json:"exitCode,omitempty"` // nil: never finished
	Signal      string    `json:"signal,omitempty"`
	CNICode     int       `json:"cniCode,omitempty"`
	Hung        bool      `json:"hung,omitempty"`
	Error       string    `json:"error"`
}

// Summary is summary.json and, rendered, the terminal summary.
type Summary struct {
	Name            string         `json:"name"`
	Namespace       string         `json:"namespace"`
	Node            string         `json:"node"`
	Dir             string         `json:"dir"`
	DelegateTimeout string         `json:"delegateTimeout"`
	Pods            []PodOutcome   `json:"pods"`
	Calls           int            `json:"calls"`
	ByCommand       map[string]int `json:"byCommand"`
	FailedCalls     int            `json:"failedCalls"`
	FirstFailure    *Failure       `json:"firstFailure,omitempty"`
	Leftovers       []string       `json:"leftovers,omitempty"`
	// Notes are facts a reader should not miss (no call recorded, leak check skipped, ...).
	Notes []string `json:"notes,omitempty"`
}

// SummaryInput is what Summarize reads.
type SummaryInput struct {
	Name, Namespace, Node, Dir string
	DelegateTimeout            time.Duration
	Pods                       []PodOutcome
	Calls                      []Call
	Leftovers                  []string
	LeakCheckSkipped           string // why, when it was
}

// Summarize finds the first failing call and counts the rest.
func Summarize(in SummaryInput) Summary {
	s := Summary{
		Name: in.Name, Namespace: in.Namespace, Node: in.Node, Dir: in.Dir,
		DelegateTimeout: in.DelegateTimeout.String(), Pods: in.Pods,
		Calls: len(in.Calls), ByCommand: map[string]int{}, Leftovers: in.Leftovers,
	}
	for i, c := range in.Calls {
		s.ByCommand[c.Meta.Command]++
		if !c.Failed() {
			continue
		}
		s.FailedCalls++
		if s.FirstFailure == nil {
			s.FirstFailure = failureOf(i, c, in.Dir, in.DelegateTimeout)
		}
	}
	if len(in.Calls) == 0 {
		s.Notes = append(s.Notes, "no delegate call was recorded: the daemon never ran the NAD's plugins (see the pod's events and daemon.log)")
	} else if s.FirstFailure == nil && anyPod(in.Pods, OutcomeReady) != len(in.Pods) {
		s.Notes = append(s.Notes, "every recorded call succeeded, yet a pod did not start: the failure is outside the delegate (see the pod's events, daemon.log and kubelet.log)")
	}
	if in.LeakCheckSkipped != "" {
		s.Notes = append(s.Notes, "leak check skipped: "+in.LeakCheckSkipped)
	}
	return s
}

func failureOf(i int, c Call, base string, timeout time.Duration) *Failure {
	f := &Failure{
		Index: i + 1, Dir: rel(base, c.Dir), Command: c.Meta.Command, Type: c.Meta.Type,
		ContainerID: c.Meta.ContainerID, IfName: c.Meta.IfName, Start: c.Meta.Start,
		Error: c.Error(timeout),
	}
	if c.Exit == nil {
		f.Hung = true
		return f
	}
	code := c.Exit.Code
	f.ExitCode = &code
	f.Signal = c.Exit.Signal
	if e := c.CNIError(); e != nil {
		f.CNICode = e.Code
	}
	return f
}

func rel(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil && base != "" {
		return r
	}
	return p
}

func anyPod(pods []PodOutcome, outcome string) int {
	n := 0
	for _, p := range pods {
		if p.Outcome == outcome {
			n++
		}
	}
	return n
}

// Render prints the terminal summary.
func (s Summary) Render(w io.Writer) {
	failed := len(s.Pods) - anyPod(s.Pods, OutcomeReady)
	fmt.Fprintf(w, "repro %s on %s (namespace %s): %d of %d pods did not start\n", s.Name, s.Node, s.Namespace, failed, len(s.Pods))
	for _, p := range s.Pods {
		line := fmt.Sprintf("  pod %s: %s", p.Name, p.Outcome)
		if p.Message != "" {
			line += ": " + truncate(p.Message, 240)
		}
		fmt.Fprintln(w, line)
	}
	var cmds []string
	for c, n := range s.ByCommand {
		cmds = append(cmds, fmt.Sprintf("%d %s", n, c))
	}
	sort.Strings(cmds)
	fmt.Fprintf(w, "delegate calls recorded: %d (%s), %d failed\n", s.Calls, strings.Join(cmds, ", "), s.FailedCalls)
	if f := s.FirstFailure; f != nil {
		fmt.Fprintf(w, "first failing call: #%d %s %s, container %.12s, ifname %s, at %s\n", f.Index, f.Command, f.Type, f.ContainerID, f.IfName, f.Start.Format("15:04:05.000"))
		fmt.Fprintf(w, "  error: %s\n", f.Error)
		fmt.Fprintf(w, "  stdin, env, stdout, stderr: %s\n", filepath.Join(s.Dir, f.Dir))
	} else {
		fmt.Fprintln(w, "first failing call: none")
	}
	if len(s.Leftovers) == 0 {
		fmt.Fprintln(w, "node state after: nothing left behind (links, leases, caches)")
	} else {
		fmt.Fprintf(w, "node state after: %d leftovers\n", len(s.Leftovers))
		for _, l := range s.Leftovers {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "evidence: %s\n", s.Dir)
	if s.Calls > 0 {
		fmt.Fprintf(w, "replay:   make repro-replay DIR=%s\n", s.Dir)
	}
}
