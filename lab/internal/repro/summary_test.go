package repro

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func call(i int, cmd string, exit *CallExit, stdout, stderr string) Call {
	return Call{
		Dir:    "/ev/calls/" + strings.Repeat("0", i) + "-" + cmd,
		Meta:   CallMeta{Command: cmd, Type: "broken", ContainerID: "c0ffee1234567890", IfName: "net1", Start: time.Date(2026, 12, 2, 3, 0, i, 0, time.UTC)},
		Exit:   exit,
		Stdout: []byte(stdout), Stderr: []byte(stderr),
	}
}

func exitCode(code int) *CallExit { return &CallExit{Code: code, DurationMs: 3} }

func TestSummarizeFirstFailingCall(t *testing.T) {
	cniErr := `{"cniVersion":"1.0.0","code":11,"msg":"boom","details":"d"}`
	cases := []struct {
		name      string
		calls     []Call
		pods      []PodOutcome
		wantIndex int // 0: none
		wantCmd   string
		wantCode  *int
		wantCNI   int
		wantHung  bool
		wantError string
		wantNote  string
	}{
		{
			name:      "ADD fails with a CNI error after a successful CHECK",
			calls:     []Call{call(1, "CHECK", exitCode(0), "", ""), call(2, "ADD", exitCode(1), cniErr, ""), call(3, "DEL", exitCode(0), "", "")},
			pods:      []PodOutcome{{Name: "repro", Outcome: OutcomeFailed}},
			wantIndex: 2, wantCmd: "ADD", wantCode: ptr(1), wantCNI: 11,
			wantError: "exit 1, CNI error 11: boom (d)",
		},
		{
			name:      "a DEL fails before the ADD does",
			calls:     []Call{call(1, "DEL", exitCode(1), `{"code":7,"msg":"no such link"}`, ""), call(2, "ADD", exitCode(1), cniErr, "")},
			pods:      []PodOutcome{{Name: "repro", Outcome: OutcomeFailed}},
			wantIndex: 1, wantCmd: "DEL", wantCode: ptr(1), wantCNI: 7, wantError: "CNI error 7: no such link",
		},
		{
			name:      "a crash with stderr only",
			calls:     []Call{call(1, "ADD", &CallExit{Code: 2}, "", "panic: nil map\ngoroutine 1\n")},
			pods:      []PodOutcome{{Name: "repro", Outcome: OutcomeFailed}},
			wantIndex: 1, wantCmd: "ADD", wantCode: ptr(2), wantError: "exit 2, stderr: panic: nil map | goroutine 1",
		},
		{
			name:      "killed by a signal",
			calls:     []Call{call(1, "ADD", &CallExit{Code: 137, Signal: "killed"}, "", "")},
			wantIndex: 1, wantCmd: "ADD", wantCode: ptr(137), wantError: "killed by signal killed with no output",
		},
		{
			name:      "stdout that is not a CNI error",
			calls:     []Call{call(1, "ADD", exitCode(1), "oops", "")},
			wantIndex: 1, wantCmd: "ADD", wantCode: ptr(1), wantError: "stdout (not a CNI error): oops",
		},
		{
			name:      "a hang: no exit recorded",
			calls:     []Call{call(1, "ADD", nil, "", "")},
			wantIndex: 1, wantCmd: "ADD", wantHung: true, wantError: "never finished",
		},
		{
			name:      "the plugin could not be run",
			calls:     []Call{call(1, "ADD", &CallExit{Code: 1, Error: "fork/exec /opt/cni/bin/broken: no such file or directory"}, `{"code":999}`, "")},
			wantIndex: 1, wantCmd: "ADD", wantCode: ptr(1), wantCNI: 999, wantError: "could not be run: fork/exec",
		},
		{
			name:     "every call succeeded but the pod did not start",
			calls:    []Call{call(1, "ADD", exitCode(0), "{}", "")},
			pods:     []PodOutcome{{Name: "repro", Outcome: OutcomeFailed, Message: "FailedCreatePodSandBox: ..."}},
			wantNote: "the failure is outside the delegate",
		},
		{
			name:     "nothing recorded",
			pods:     []PodOutcome{{Name: "repro", Outcome: OutcomeFailed}},
			wantNote: "no delegate call was recorded",
		},
		{
			name:  "all good",
			calls: []Call{call(1, "ADD", exitCode(0), "{}", ""), call(2, "DEL", exitCode(0), "", "")},
			pods:  []PodOutcome{{Name: "repro", Outcome: OutcomeReady}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := Summarize(SummaryInput{Name: "broken", Dir: "/ev", DelegateTimeout: 2 * time.Minute, Pods: tc.pods, Calls: tc.calls})
			if s.Calls != len(tc.calls) {
				t.Errorf("calls %d, want %d", s.Calls, len(tc.calls))
			}
			f := s.FirstFailure
			if tc.wantIndex == 0 {
				if f != nil {
					t.Fatalf("first failure %+v, want none", f)
				}
			} else {
				if f == nil {
					t.Fatal("no first failure")
				}
				if f.Index != tc.wantIndex || f.Command != tc.wantCmd || f.CNICode != tc.wantCNI || f.Hung != tc.wantHung ||
					!strings.Contains(f.Error, tc.wantError) || !samePtr(f.ExitCode, tc.wantCode) {
					t.Errorf("first failure %+v (exit %v)\nwant #%d %s exit %v CNI %d hung %v error ~%q", f, deref(f.ExitCode), tc.wantIndex, tc.wantCmd, deref(tc.wantCode), tc.wantCNI, tc.wantHung, tc.wantError)
				}
				if !strings.HasPrefix(f.Dir, "calls/") {
					t.Errorf("dir %q, want relative to the evidence folder", f.Dir)
				}
			}
			notes := strings.Join(s.Notes, "\n")
			if tc.wantNote != "" && !strings.Contains(notes, tc.wantNote) || tc.wantNote == "" && notes != "" {
				t.Errorf("notes %q, want %q", notes, tc.wantNote)
			}
			var out strings.Builder
			s.Render(&out)
			if f != nil && !strings.Contains(out.String(), "first failing call: #") {
				t.Errorf("summary does not name the first failing call:\n%s", out.String())
			}
			if f != nil && tc.wantHung && !strings.Contains(out.String(), "delegateTimeout 2m0s") {
				t.Errorf("a hang must be reported as cut off at the daemon's delegate deadline:\n%s", out.String())
			}
		})
	}
}

func ptr(i int) *int { return &i }

func samePtr(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestLeftovers(t *testing.T) {
	before := parseState("link lo\nlink eth0\nlease cbr0/10.244.1.5 other\nfile /var/lib/cni/multus/other\n")
	after := parseState(strings.Join([]string{
		"link lo", "link eth0", "link veth1234", "netns cni-1", "bridge cni0",
		"lease cbr0/10.244.1.5 other", "lease cbr0/10.244.1.6 c0ffee", "lease cbr0/10.244.1.7 stranger",
		"file /var/lib/cni/multus/other", "file /var/lib/cni/multus/c0ffee", "file /var/lib/cni/results/net-c0ffee-net1",
		"file /var/lib/cni/results/net-stranger-eth0", "garbage",
	}, "\n"))
	got := strings.Join(Leftovers(before, after, []string{"c0ffee"}), "\n")
	want := strings.Join([]string{
		"link veth1234", "netns cni-1", "lease cbr0/10.244.1.6 c0ffee",
		"file /var/lib/cni/multus/c0ffee", "file /var/lib/cni/results/net-c0ffee-net1",
	}, "\n")
	if got != want {
		t.Errorf("leftovers\n%s\nwant\n%s", got, want)
	}
	if l := Leftovers(before, before, []string{"c0ffee"}); len(l) != 0 {
		t.Errorf("no change must leave nothing: %v", l)
	}
}

func TestReplayEnviron(t *testing.T) {
	rec := []string{"CNI_ARGS=K8S_POD_NAME=p", "CNI_COMMAND=ADD", "CNI_NETNS=/var/run/netns/cni-1", "CNI_PATH=/opt/cni/bin", "PATH=/bin"}
	got := strings.Join(ReplayEnviron(rec, "/var/run/netns/mt-replay-1", "/r/bin"), " ")
	want := "CNI_ARGS=K8S_POD_NAME=p CNI_COMMAND=ADD CNI_NETNS=/var/run/netns/mt-replay-1 CNI_PATH=/r/bin:/opt/cni/bin PATH=/bin"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// A DEL after the sandbox is gone has no netns: it stays without one.
	del := ReplayEnviron([]string{"CNI_COMMAND=DEL", "CNI_NETNS="}, "/var/run/netns/x", "/b")
	if strings.Join(del, " ") != "CNI_COMMAND=DEL CNI_NETNS=" {
		t.Errorf("DEL without netns: %v", del)
	}
	if got := withEnv(rec, "CNI_COMMAND", "DEL"); !strings.Contains(strings.Join(got, " "), "CNI_COMMAND=DEL") || strings.Contains(strings.Join(got, " "), "CNI_COMMAND=ADD") {
		t.Errorf("withEnv: %v", got)
	}
}

func TestReplayPluginType(t *testing.T) {
	shipped := Manifest{Types: []string{"macvlan", "tuning"}}
	mine := Manifest{Types: []string{"macvlan", "my-plugin"}, PluginType: "my-plugin"}
	for _, tc := range []struct {
		m            Manifest
		plugin, want string
	}{
		{shipped, "/tmp/tuning", "tuning"},
		{shipped, "/tmp/build/out", ""},
		{mine, "/tmp/build/out", "my-plugin"},
		{mine, "bin/macvlan", "macvlan"},
		{Manifest{Types: []string{"a"}}, "/x/y", "a"},
	} {
		got, err := replayPluginType(tc.m, tc.plugin)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("replayPluginType(%v, %s) = %q, %v; want %q", tc.m.Types, tc.plugin, got, err, tc.want)
		}
	}
}

func TestFaultStateFiles(t *testing.T) {
	call := func(stdin string) Call { return Call{Stdin: []byte(stdin)} }
	for _, tc := range []struct {
		name  string
		calls []Call
		want  []string
	}{
		{"no recordFile", []Call{call(`{"type":"bridge"}`)}, nil},
		{"one file named twice", []Call{call(`{"recordFile":"/var/log/b.log"}`), call(`{"recordFile":"/var/log/b.log"}`)}, []string{"/var/log/b.log.state"}},
		{"sorted", []Call{call(`{"recordFile":"/z.log"}`), call(`{"recordFile":"/a.log"}`)}, []string{"/a.log.state", "/z.log.state"}},
		{"relative path or not a string", []Call{call(`{"recordFile":"b.log"}`), call(`{"recordFile":1}`)}, nil},
		{"stdin that does not parse", []Call{call(`{`), call(``)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FaultStateFiles(tc.calls); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
