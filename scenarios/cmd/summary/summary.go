package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// event is one line of `go test -json` (cmd/test2json; build-output and
// build-fail come from go build and carry ImportPath instead of Package).
type event struct {
	Time       time.Time `json:"Time"`
	Action     string    `json:"Action"`
	Package    string    `json:"Package"`
	ImportPath string    `json:"ImportPath"`
	Test       string    `json:"Test"`
	Elapsed    float64   `json:"Elapsed"`
	Output     string    `json:"Output"`
}

// result is what the run said about one test or package.
type result struct {
	Name    string
	Package string
	Action  string // pass, fail, skip; "" while still running
	Seconds float64
	Started time.Time
	// Output is what the test (or package) printed itself, line by line:
	// t.Log/t.Error lines, the suite's diagnosis, panics.
	Output []string
	order  int
}

// Main runs the command; it returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("summary", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stream := fs.Bool("stream", false, "echo the tests' output while reading")
	junit := fs.String("junit", "", "also write the results as JUnit XML to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	s, err := Read(stdin, stdout, *stream)
	if err != nil {
		fmt.Fprintf(stderr, "summary: %v\n", err)
		return 2
	}
	s.Print(stdout)
	if *junit != "" {
		if err := WriteJUnitFile(*junit, s); err != nil {
			fmt.Fprintf(stderr, "summary: %v\n", err)
			return 2
		}
		fmt.Fprintf(stdout, "JUnit report: %s\n", *junit)
	}
	if s.Failed() {
		return 1
	}
	return 0
}

// Summary is the outcome of a run.
type Summary struct {
	tests    map[string]*result // by "pkg\x00test"
	packages map[string]*result
	n        int
}

// Read consumes a `go test -json` stream. Lines that are not JSON events
// (build errors printed before the stream starts) are echoed when stream
// is set and otherwise ignored.
func Read(r io.Reader, echo io.Writer, stream bool) (*Summary, error) {
	s := &Summary{tests: map[string]*result{}, packages: map[string]*result{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			if stream {
				fmt.Fprintf(echo, "%s\n", line)
			}
			continue
		}
		if stream && (ev.Action == "output" || ev.Action == "build-output") {
			io.WriteString(echo, ev.Output)
		}
		s.add(ev)
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("read test events: %w", err)
	}
	return s, nil
}

func (s *Summary) add(ev event) {
	switch ev.Action {
	case "run", "pass", "fail", "skip", "output":
	case "build-output":
		// "pkg [pkg.test]": the compiler's messages belong to the package.
		ev.Package, _, _ = strings.Cut(ev.ImportPath, " ")
	default:
		return
	}
	m, key, name := s.tests, ev.Package+"\x00"+ev.Test, ev.Test
	if ev.Test == "" {
		m, key, name = s.packages, ev.Package, ev.Package
	}
	r, ok := m[key]
	if !ok {
		s.n++
		r = &result{Name: name, Package: ev.Package, order: s.n, Started: ev.Time}
		m[key] = r
	}
	switch ev.Action {
	case "run":
	case "output", "build-output":
		r.Output = append(r.Output, strings.TrimRight(ev.Output, "\n"))
	default:
		r.Action, r.Seconds = ev.Action, ev.Elapsed
	}
}

// Failed reports whether any test or package failed, a test never
// finished (the binary died or timed out mid-test), or nothing ran at all
// (an empty stream must not pass a CI job).
func (s *Summary) Failed() bool {
	if len(s.packages) == 0 {
		return true
	}
	for _, r := range s.tests {
		if r.Action == "fail" || r.Action == "" {
			return true
		}
	}
	for _, r := range s.packages {
		if r.Action == "fail" {
			return true
		}
	}
	return false
}

// Rows returns the table rows in run order: each scenario (Test/feature),
// or the Test itself when it has no features; failed assessments follow
// their scenario, indented; a failed package without failed tests (setup
// failed, build failed) gets its own row.
func (s *Summary) Rows() []result {
	all := make([]*result, 0, len(s.tests))
	hasChild := map[string]bool{}
	for _, r := range s.tests {
		all = append(all, r)
		if i := strings.LastIndex(r.Name, "/"); i >= 0 {
			hasChild[r.Name[:i]] = true
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].order < all[j].order })
	var rows []result
	for _, r := range all {
		depth := strings.Count(r.Name, "/")
		switch {
		case depth == 1, depth == 0 && !hasChild[r.Name]:
			rows = append(rows, *r)
		case depth == 2 && r.Action != "pass" && r.Action != "skip":
			c := *r
			c.Name = "  " + c.Name[strings.LastIndex(c.Name, "/")+1:]
			rows = append(rows, c)
		}
	}
	failedTests := false
	for _, r := range s.tests {
		failedTests = failedTests || r.Action == "fail"
	}
	pkgs := make([]*result, 0, len(s.packages))
	for _, p := range s.packages {
		pkgs = append(pkgs, p)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].order < pkgs[j].order })
	for _, p := range pkgs {
		if p.Action == "fail" && !failedTests {
			c := *p
			c.Name = "(package " + c.Name + ")"
			rows = append(rows, c)
		}
	}
	return rows
}

// Print writes the table and a totals line.
func (s *Summary) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tRESULT\tSECONDS")
	counts := map[string]int{}
	total := 0.0
	for _, r := range s.Rows() {
		res := strings.ToUpper(r.Action)
		if res == "" {
			res = "UNFINISHED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\n", r.Name, res, r.Seconds)
		if !strings.HasPrefix(r.Name, "  ") && !strings.HasPrefix(r.Name, "(package") {
			counts[res]++
		}
	}
	for _, p := range s.packages {
		total += p.Seconds
	}
	tw.Flush()
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped, %d unfinished in %.1fs\n",
		counts["PASS"], counts["FAIL"], counts["SKIP"], counts["UNFINISHED"], total)
}
