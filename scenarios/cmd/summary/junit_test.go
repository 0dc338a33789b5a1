package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The JUnit schema as a CI system reads it, declared here apart from the
// writer's types so that the test checks the file, not the writer's structs.
type xSuites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Time     string   `xml:"time,attr"`
	Suites   []xSuite `xml:"testsuite"`
}

type xSuite struct {
	Name     string  `xml:"name,attr"`
	Tests    int     `xml:"tests,attr"`
	Failures int     `xml:"failures,attr"`
	Errors   int     `xml:"errors,attr"`
	Skipped  int     `xml:"skipped,attr"`
	Time     string  `xml:"time,attr"`
	Cases    []xCase `xml:"testcase"`
}

type xCase struct {
	Name      string `xml:"name,attr"`
	Classname string `xml:"classname,attr"`
	Time      string `xml:"time,attr"`
	Failure   *xMsg  `xml:"failure"`
	Error     *xMsg  `xml:"error"`
	Skipped   *xMsg  `xml:"skipped"`
}

type xMsg struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

// A run shaped like the suite's: Test/feature/assessment, the diagnosis
// printed on the Test, a feature skipped by its labels, a feature whose
// setup failed while its assessment passed, a Test that failed after its
// features (namespace cleanup), and the package's FAIL.
const suiteRun = `{"Time":"2026-12-02T03:00:00Z","Action":"start","Package":"s"}
{"Time":"2026-12-02T03:00:00Z","Action":"run","Package":"s","Test":"TestA"}
{"Action":"output","Package":"s","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"run","Package":"s","Test":"TestA/feat-a"}
{"Action":"run","Package":"s","Test":"TestA/feat-a/works"}
{"Action":"pass","Package":"s","Test":"TestA/feat-a/works","Elapsed":1.5}
{"Action":"pass","Package":"s","Test":"TestA/feat-a","Elapsed":2}
{"Action":"pass","Package":"s","Test":"TestA","Elapsed":3}
{"Action":"run","Package":"s","Test":"TestB"}
{"Action":"run","Package":"s","Test":"TestB/feat-b"}
{"Action":"run","Package":"s","Test":"TestB/feat-b/breaks"}
{"Action":"output","Package":"s","Test":"TestB/feat-b/breaks","Output":"=== RUN   TestB/feat-b/breaks\n"}
{"Action":"output","Package":"s","Test":"TestB/feat-b/breaks","Output":"    macvlan_test.go:55: pod macvlan-a: no net1 in the netns\n"}
{"Action":"output","Package":"s","Test":"TestB/feat-b/breaks","Output":"    macvlan_test.go:60: pod macvlan-a: second problem\n"}
{"Action":"output","Package":"s","Test":"TestB/feat-b/breaks","Output":"        --- FAIL: TestB/feat-b/breaks (4.00s)\n"}
{"Action":"fail","Package":"s","Test":"TestB/feat-b/breaks","Elapsed":4}
{"Action":"run","Package":"s","Test":"TestB/feat-b/after"}
{"Action":"pass","Package":"s","Test":"TestB/feat-b/after","Elapsed":0.5}
{"Action":"fail","Package":"s","Test":"TestB/feat-b","Elapsed":4.5}
{"Action":"output","Package":"s","Test":"TestB","Output":"    main_test.go:160: pod mt-1-b/macvlan-a node=mt-lab-worker phase=Pending\n"}
{"Action":"output","Package":"s","Test":"TestB","Output":"          event Warning FailedCreatePodSandBox x3: plugin type=\"macvlan\" failed\n"}
{"Action":"fail","Package":"s","Test":"TestB","Elapsed":5}
{"Action":"run","Package":"s","Test":"TestC"}
{"Action":"run","Package":"s","Test":"TestC/feat-c"}
{"Action":"output","Package":"s","Test":"TestC/feat-c","Output":"    env.go:231: Skipping feature \"feat-c\": unmatched labels\n"}
{"Action":"skip","Package":"s","Test":"TestC/feat-c","Elapsed":0}
{"Action":"pass","Package":"s","Test":"TestC","Elapsed":0}
{"Action":"run","Package":"s","Test":"TestD"}
{"Action":"run","Package":"s","Test":"TestD/feat-d"}
{"Action":"output","Package":"s","Test":"TestD/feat-d","Output":"    d_test.go:20: create NAD: already exists\n"}
{"Action":"run","Package":"s","Test":"TestD/feat-d/ok"}
{"Action":"pass","Package":"s","Test":"TestD/feat-d/ok","Elapsed":1}
{"Action":"fail","Package":"s","Test":"TestD/feat-d","Elapsed":1.2}
{"Action":"fail","Package":"s","Test":"TestD","Elapsed":1.3}
{"Action":"run","Package":"s","Test":"TestE"}
{"Action":"run","Package":"s","Test":"TestE/feat-e"}
{"Action":"run","Package":"s","Test":"TestE/feat-e/ok"}
{"Action":"pass","Package":"s","Test":"TestE/feat-e/ok","Elapsed":1}
{"Action":"pass","Package":"s","Test":"TestE/feat-e","Elapsed":1}
{"Action":"output","Package":"s","Test":"TestE","Output":"    env.go:400: AfterEachTest failure: namespace mt-1-e still present after 3m0s\n"}
{"Action":"fail","Package":"s","Test":"TestE","Elapsed":200}
{"Action":"output","Package":"s","Output":"FAIL\n"}
{"Action":"fail","Package":"s","Elapsed":215}
`

func TestJUnitReport(t *testing.T) {
	type want struct {
		class, name string
		result      string // pass, fail, skip, error
		message     string // exact message attribute ("" = not checked)
		bodyHas     []string
	}
	cases := []struct {
		name   string
		in     string
		code   int
		totals [4]int // tests, failures, errors, skipped
		suites []string
		cases  []want
	}{
		{
			name:   "the suite's shapes",
			in:     suiteRun,
			code:   1,
			totals: [4]int{8, 3, 0, 1},
			suites: []string{"TestA", "TestB", "TestC", "TestD", "TestE"},
			cases: []want{
				{class: "TestA/feat-a", name: "works", result: "pass"},
				{class: "TestB/feat-b", name: "breaks", result: "fail", message: "pod macvlan-a: no net1 in the netns",
					bodyHas: []string{"second problem", "--- TestB ---", "FailedCreatePodSandBox", "node=mt-lab-worker"}},
				{class: "TestB/feat-b", name: "after", result: "pass"},
				{class: "TestC", name: "feat-c", result: "skip", message: `Skipping feature "feat-c": unmatched labels`},
				{class: "TestD/feat-d", name: "ok", result: "pass"},
				{class: "TestD/feat-d", name: ownBody, result: "fail", message: "create NAD: already exists"},
				{class: "TestE/feat-e", name: "ok", result: "pass"},
				{class: "TestE", name: ownBody, result: "fail", message: "AfterEachTest failure: namespace mt-1-e still present after 3m0s"},
			},
		},
		{
			name: "all pass",
			in: `{"Action":"run","Package":"s","Test":"TestA"}
{"Action":"pass","Package":"s","Test":"TestA","Elapsed":1}
{"Action":"pass","Package":"s","Elapsed":1}
`,
			totals: [4]int{1, 0, 0, 0},
			suites: []string{"TestA"},
			cases:  []want{{class: "s", name: "TestA", result: "pass"}},
		},
		{
			name: "a test cut off by the timeout is an error",
			in: `{"Action":"run","Package":"s","Test":"TestA"}
{"Action":"output","Package":"s","Test":"TestA","Output":"panic: test timed out after 40m0s\n"}
{"Action":"fail","Package":"s","Elapsed":2400}
`,
			code:   1,
			totals: [4]int{1, 0, 1, 0},
			suites: []string{"TestA"},
			cases:  []want{{class: "s", name: "TestA", result: "error", bodyHas: []string{"timed out after 40m0s"}}},
		},
		{
			name: "setup failed before any test: the package is the failure",
			in: `{"Action":"output","Package":"s","Output":"scenarios: lab (kubeconfig k): need 2 worker nodes, found []\n"}
{"Action":"output","Package":"s","Output":"FAIL\ts\t0.2s\n"}
{"Action":"fail","Package":"s","Elapsed":0.2}
`,
			code:   1,
			totals: [4]int{1, 1, 0, 0},
			suites: []string{"s"},
			cases: []want{{class: "s", name: ownBody, result: "fail",
				message: "scenarios: lab (kubeconfig k): need 2 worker nodes, found []"}},
		},
		{
			name: "build failure",
			in: `{"ImportPath":"s [s.test]","Action":"build-output","Output":"# s [s.test]\n"}
{"ImportPath":"s [s.test]","Action":"build-output","Output":"./a_test.go:3:28: undefined: nope\n"}
{"ImportPath":"s [s.test]","Action":"build-fail"}
{"Action":"start","Package":"s"}
{"Action":"output","Package":"s","Output":"FAIL\ts [build failed]\n"}
{"Action":"fail","Package":"s","Elapsed":0}
`,
			code:   1,
			totals: [4]int{1, 1, 0, 0},
			suites: []string{"s"},
			cases:  []want{{class: "s", name: ownBody, result: "fail", message: "undefined: nope", bodyHas: []string{"./a_test.go:3:28"}}},
		},
		{
			name: "nothing ran",
			in:   "",
			code: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "e2e", "junit.xml")
			var out, errb bytes.Buffer
			if code := Main([]string{"-junit", path}, strings.NewReader(tc.in), &out, &errb); code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, errb.String())
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(raw, []byte(xml.Header)) {
				t.Errorf("no XML header: %.60q", raw)
			}
			var doc xSuites
			if err := xml.Unmarshal(raw, &doc); err != nil {
				t.Fatalf("junit.xml does not parse: %v\n%s", err, raw)
			}
			if got := [4]int{doc.Tests, doc.Failures, doc.Errors, doc.Skipped}; got != tc.totals {
				t.Errorf("totals (tests, failures, errors, skipped) %v, want %v", got, tc.totals)
			}
			var names []string
			var all []xCase
			for _, s := range doc.Suites {
				names = append(names, s.Name)
				all = append(all, s.Cases...)
				checkSuiteCounts(t, s)
			}
			if strings.Join(names, ",") != strings.Join(tc.suites, ",") {
				t.Errorf("suites %v, want %v", names, tc.suites)
			}
			if len(all) != len(tc.cases) {
				t.Errorf("%d testcases, want %d:\n%s", len(all), len(tc.cases), raw)
			}
			for i, w := range tc.cases {
				if i >= len(all) {
					break
				}
				c := all[i]
				if c.Classname != w.class || c.Name != w.name {
					t.Errorf("case %d is %s / %s, want %s / %s", i, c.Classname, c.Name, w.class, w.name)
				}
				if _, err := strconv.ParseFloat(c.Time, 64); err != nil {
					t.Errorf("case %s: time %q: %v", c.Name, c.Time, err)
				}
				msg, got := resultOf(c)
				if got != w.result {
					t.Errorf("case %s/%s: result %s, want %s", c.Classname, c.Name, got, w.result)
					continue
				}
				if w.message != "" && msg.Message != w.message {
					t.Errorf("case %s/%s: message %q, want %q", c.Classname, c.Name, msg.Message, w.message)
				}
				for _, part := range w.bodyHas {
					if !strings.Contains(msg.Body, part) {
						t.Errorf("case %s/%s: body lacks %q:\n%s", c.Classname, c.Name, part, msg.Body)
					}
				}
				if msg != nil && strings.Contains(msg.Body, "--- FAIL") {
					t.Errorf("case %s: body keeps go test's framing lines:\n%s", c.Name, msg.Body)
				}
			}
		})
	}
}

// checkSuiteCounts checks a suite's attributes against its testcases, as
// a CI system's parser would.
func checkSuiteCounts(t *testing.T, s xSuite) {
	t.Helper()
	n := map[string]int{}
	for _, c := range s.Cases {
		_, r := resultOf(c)
		n[r]++
	}
	if s.Tests != len(s.Cases) || s.Failures != n["fail"] || s.Errors != n["error"] || s.Skipped != n["skip"] {
		t.Errorf("suite %s says tests=%d failures=%d errors=%d skipped=%d; its cases say %d %v",
			s.Name, s.Tests, s.Failures, s.Errors, s.Skipped, len(s.Cases), n)
	}
}

func resultOf(c xCase) (*xMsg, string) {
	switch {
	case c.Failure != nil:
		return c.Failure, "fail"
	case c.Error != nil:
		return c.Error, "error"
	case c.Skipped != nil:
		return c.Skipped, "skip"
	}
	return nil, "pass"
}
