package main

import (
	"bytes"
	"strings"
	"testing"
)

const run = `not json: a build line
{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"run","Package":"p","Test":"TestA/feat-a"}
{"Action":"run","Package":"p","Test":"TestA/feat-a/works"}
{"Action":"pass","Package":"p","Test":"TestA/feat-a/works","Elapsed":1.5}
{"Action":"pass","Package":"p","Test":"TestA/feat-a","Elapsed":2}
{"Action":"pass","Package":"p","Test":"TestA","Elapsed":3}
{"Action":"run","Package":"p","Test":"TestB"}
{"Action":"run","Package":"p","Test":"TestB/feat-b"}
{"Action":"run","Package":"p","Test":"TestB/feat-b/breaks"}
{"Action":"fail","Package":"p","Test":"TestB/feat-b/breaks","Elapsed":4}
{"Action":"fail","Package":"p","Test":"TestB/feat-b","Elapsed":4.5}
{"Action":"fail","Package":"p","Test":"TestB","Elapsed":5}
{"Action":"run","Package":"p","Test":"TestC"}
{"Action":"skip","Package":"p","Test":"TestC","Elapsed":0}
{"Action":"fail","Package":"p","Elapsed":9}
`

func TestSummary(t *testing.T) {
	cases := []struct {
		name     string
		in       string
		stream   bool
		code     int
		contains []string
		absent   []string
	}{
		{
			name: "mixed run",
			in:   run,
			code: 1,
			contains: []string{
				"TestA/feat-a  PASS", "TestB/feat-b  FAIL", "  breaks", "TestC", "SKIP",
				"1 passed, 1 failed, 1 skipped, 0 unfinished in 9.0s",
			},
			absent: []string{"works", "=== RUN", "(package"},
		},
		{
			name:     "stream echoes output and non-JSON lines",
			in:       run,
			stream:   true,
			code:     1,
			contains: []string{"not json: a build line", "=== RUN   TestA"},
		},
		{
			name: "all pass",
			in: `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Test":"TestA","Elapsed":1}
{"Action":"pass","Package":"p","Elapsed":1}
`,
			contains: []string{"TestA", "1 passed, 0 failed"},
		},
		{
			name:     "package failed before any test (setup or build)",
			in:       `{"Action":"fail","Package":"p","Elapsed":0.2}` + "\n",
			code:     1,
			contains: []string{"(package p)  FAIL"},
		},
		{
			name: "test never finished (timeout panic)",
			in: `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"fail","Package":"p","Elapsed":600}
`,
			code:     1,
			contains: []string{"UNFINISHED", "(package p)", "0 passed, 0 failed, 0 skipped, 1 unfinished"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := []string{}
			if tc.stream {
				args = append(args, "-stream")
			}
			code := Main(args, strings.NewReader(tc.in), &out, &errb)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, errb.String())
			}
			for _, s := range tc.contains {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(out.String(), s) {
					t.Errorf("output has %q:\n%s", s, out.String())
				}
			}
		})
	}
}
