package main

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// The JUnit XML that CI systems read (the de facto schema of Ant's
// junitreport, as Jenkins, GitLab and GitHub reporters accept it): one
// testsuite per top-level Test, one testcase per leaf of the run (an
// assessment of a feature; a feature that never reached its assessments;
// a Test without features), and one more testcase for a Test or feature
// that failed in its own body (setup, teardown, the per-test namespace)
// while everything below it passed.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

// ownBody names the extra testcase of a Test or feature that failed in
// its own body.
const ownBody = "(setup and teardown)"

// WriteJUnitFile writes s as JUnit XML to path, creating its directory.
func WriteJUnitFile(path string, s *Summary) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("junit report dir: %w", err)
	}
	b, err := xml.MarshalIndent(s.JUnit(), "", "  ")
	if err != nil {
		return fmt.Errorf("junit report: %w", err)
	}
	if err := os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644); err != nil {
		return fmt.Errorf("junit report: %w", err)
	}
	return nil
}

// JUnit renders the run.
func (s *Summary) JUnit() junitSuites {
	children := map[string][]*result{}
	var tops []*result
	for _, r := range s.tests {
		if i := strings.LastIndex(r.Name, "/"); i >= 0 {
			children[r.Package+"\x00"+r.Name[:i]] = append(children[r.Package+"\x00"+r.Name[:i]], r)
		} else {
			tops = append(tops, r)
		}
	}
	byOrder := func(rs []*result) {
		sort.Slice(rs, func(i, j int) bool { return rs[i].order < rs[j].order })
	}
	byOrder(tops)

	out := junitSuites{Name: "scenarios"}
	var total float64
	for _, top := range tops {
		suite := junitSuite{Name: top.Name, Time: seconds(top.Seconds)}
		if !top.Started.IsZero() {
			suite.Timestamp = top.Started.UTC().Format(time.RFC3339)
		}
		var walk func(r *result, ancestors []*result)
		walk = func(r *result, ancestors []*result) {
			key := r.Package + "\x00" + r.Name
			kids := children[key]
			byOrder(kids)
			if len(kids) == 0 {
				suite.Cases = append(suite.Cases, leafCase(r, ancestors))
				return
			}
			for _, k := range kids {
				walk(k, append(ancestors, r))
			}
			if r.Action != "pass" && r.Action != "skip" && !anyFailed(kids, children) {
				c := leafCase(r, ancestors)
				c.Classname, c.Name = r.Name, ownBody
				suite.Cases = append(suite.Cases, c)
			}
		}
		walk(top, nil)
		for _, c := range suite.Cases {
			suite.Tests++
			switch {
			case c.Failure != nil:
				suite.Failures++
			case c.Error != nil:
				suite.Errors++
			case c.Skipped != nil:
				suite.Skipped++
			}
		}
		out.Suites = append(out.Suites, suite)
		total += top.Seconds
	}
	// A package that failed with no failed test (TestMain or the suite's
	// setup failed, the build failed) is a failure CI must see too.
	pkgs := make([]*result, 0, len(s.packages))
	for _, p := range s.packages {
		pkgs = append(pkgs, p)
	}
	byOrder(pkgs)
	for _, p := range pkgs {
		if total < p.Seconds {
			total = p.Seconds
		}
		if p.Action == "fail" && !anyFailed(tops, children) {
			c := junitCase{Name: ownBody, Classname: p.Name, Time: seconds(p.Seconds),
				Failure: &junitMessage{Message: firstMessage(p.Output, "package "+p.Name+" failed"), Type: "fail", Body: body(p.Output)}}
			out.Suites = append(out.Suites, junitSuite{Name: p.Name, Tests: 1, Failures: 1, Time: seconds(p.Seconds), Cases: []junitCase{c}})
		}
	}
	for _, su := range out.Suites {
		out.Tests += su.Tests
		out.Failures += su.Failures
		out.Errors += su.Errors
		out.Skipped += su.Skipped
	}
	out.Time = seconds(total)
	return out
}

// leafCase is the testcase of r. A failure carries r's own output and,
// below it, what each ancestor printed: the suite prints its diagnosis
// (pods, events, the daemon's lines for each pod) on the Test.
func leafCase(r *result, ancestors []*result) junitCase {
	class, name := r.Package, r.Name
	if i := strings.LastIndex(r.Name, "/"); i >= 0 {
		class, name = r.Name[:i], r.Name[i+1:]
	}
	c := junitCase{Name: name, Classname: class, Time: seconds(r.Seconds)}
	switch r.Action {
	case "fail":
		text := body(r.Output)
		for i := len(ancestors) - 1; i >= 0; i-- {
			if b := body(ancestors[i].Output); b != "" {
				text += "\n--- " + ancestors[i].Name + " ---\n" + b
			}
		}
		c.Failure = &junitMessage{Message: firstMessage(r.Output, "failed"), Type: "fail", Body: text}
	case "":
		c.Error = &junitMessage{Message: "did not finish (the test binary timed out or crashed)", Type: "unfinished", Body: body(r.Output)}
	case "skip":
		c.Skipped = &junitMessage{Message: firstMessage(r.Output, "skipped")}
	}
	return c
}

// anyFailed reports whether any of rs or their descendants failed or did
// not finish.
func anyFailed(rs []*result, children map[string][]*result) bool {
	for _, r := range rs {
		if r.Action == "fail" || r.Action == "" || anyFailed(children[r.Package+"\x00"+r.Name], children) {
			return true
		}
	}
	return false
}

// logLine is a t.Log/t.Error line as go test prints it: "    file.go:12: text".
// Compiler messages ("./x_test.go:3:28: undefined: y") match as well.
var logLine = regexp.MustCompile(`^\s*[\w./-]+\.go:\d+(?::\d+)?: (.*)$`)

// firstMessage is the text of the first log line of out, for the
// message attribute; def when there is none.
func firstMessage(out []string, def string) string {
	for _, l := range out {
		if m := logLine.FindStringSubmatch(l); m != nil {
			return m[1]
		}
	}
	for _, l := range out {
		if t := strings.TrimSpace(l); t != "" && !isFrame(t) {
			return t
		}
	}
	return def
}

// body is out without go test's own framing lines (=== RUN, --- FAIL ...).
func body(out []string) string {
	var b strings.Builder
	for _, l := range out {
		if isFrame(strings.TrimSpace(l)) {
			continue
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n")
}

func isFrame(l string) bool {
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME", "--- PASS", "--- FAIL", "--- SKIP", "PASS", "FAIL", "ok  "} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

func seconds(s float64) string { return fmt.Sprintf("%.3f", s) }
