package netselect

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/multus-thick/multus-thick/fixtures"
)

var update = flag.Bool("update", false, "rewrite fixtures/annotations/*.golden.json from the parser's output")

const (
	podNamespace    = "pod-ns"
	multusNamespace = "kube-system"
)

// golden is the recorded outcome of one case.
type golden struct {
	Selections []Selection `json:"selections,omitempty"`
	Error      string      `json:"error,omitempty"`
}

// parseCase parses one fixture the way its name says (default-* cases
// are the default-network annotation).
func parseCase(name, value string) golden {
	if strings.HasPrefix(name, "default-") {
		s, err := ParseDefault(value, multusNamespace)
		if err != nil {
			return golden{Error: err.Error()}
		}
		return golden{Selections: []Selection{*s}}
	}
	sels, err := Parse(value, podNamespace)
	if err != nil {
		return golden{Error: err.Error()}
	}
	return golden{Selections: sels}
}

func annotationCases(t testing.TB) map[string]string {
	t.Helper()
	cases := map[string]string{}
	err := fs.WalkDir(fixtures.FS(), "annotations", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".txt") {
			return err
		}
		data, err := fs.ReadFile(fixtures.FS(), path)
		if err != nil {
			return err
		}
		cases[strings.TrimSuffix(filepath.Base(path), ".txt")] = strings.TrimSuffix(string(data), "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no annotation fixtures found")
	}
	return cases
}

func TestGolden(t *testing.T) {
	for name, value := range annotationCases(t) {
		t.Run(name, func(t *testing.T) {
			got, err := json.MarshalIndent(parseCase(name, value), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			goldenPath := "annotations/" + name + ".golden.json"
			if *update {
				_, self, _, _ := runtime.Caller(0)
				dst := filepath.Join(filepath.Dir(self), "..", "..", "..", "fixtures", goldenPath)
				if err := os.WriteFile(dst, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := fixtures.Read(goldenPath)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("parse %q:\n got: %s\nwant: %s", value, got, want)
			}
		})
	}
}

// TestRules pins the rules the golden files exercise, so that a careless
// -update cannot silently accept a regression.
func TestRules(t *testing.T) {
	tests := []struct {
		name, value string
		wantErr     string // substring; "" means success
		wantIfnames []string
	}{
		{name: "empty is no networks", value: ""},
		{name: "text with namespace and ifname", value: "ns1/a@net3", wantIfnames: []string{"net3"}},
		{name: "json alias interfaceRequest", value: `[{"name":"a","interfaceRequest":"net7"}]`, wantIfnames: []string{"net7"}},
		{name: "ifname of 15 is fine", value: "a@abcdefghijklmno", wantIfnames: []string{"abcdefghijklmno"}},
		{name: "ifname of 16 is too long", value: "a@abcdefghijklmnop", wantErr: "longer than 15"},
		{name: "json ifname too long", value: `[{"name":"a","interface":"abcdefghijklmnop"}]`, wantErr: "longer than 15"},
		{name: "ifname with space", value: `[{"name":"a","interface":"a b"}]`, wantErr: "whitespace"},
		{name: "ifname dot", value: `[{"name":"a","interface":".."}]`, wantErr: "reserved"},
		{name: "duplicate ifname", value: "a@x,b@x", wantErr: "already requested by entry 0"},
		{name: "two slashes", value: "a/b/c", wantErr: "more than one '/'"},
		{name: "two ats", value: "a@b@c", wantErr: "more than one '@'"},
		{name: "upper-case name", value: "A", wantErr: "not a DNS-1123 label"},
		{name: "json object not array", value: `{"name":"a"}`, wantErr: "must be an array"},
		{name: "bad mac", value: `[{"name":"a","mac":"nope"}]`, wantErr: "mac"},
		{name: "bad guid", value: `[{"name":"a","infiniband-guid":"nope"}]`, wantErr: "infiniband-guid"},
		{name: "bad ip", value: `[{"name":"a","ips":["1.2.3"]}]`, wantErr: "not an IP address"},
		{name: "bad default-route", value: `[{"name":"a","default-route":["nope"]}]`, wantErr: "must be an array"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sels, err := Parse(tc.value, podNamespace)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ifnames []string
			for _, s := range sels {
				if s.Namespace == "" {
					t.Errorf("selection %q has no namespace", s.Name)
				}
				if s.Interface != "" {
					ifnames = append(ifnames, s.Interface)
				}
			}
			if !reflect.DeepEqual(ifnames, tc.wantIfnames) {
				t.Errorf("ifnames = %v, want %v", ifnames, tc.wantIfnames)
			}
		})
	}
}

// TestUpstreamTextSpellings: text-form annotations that upstream accepts
// select the same networks here (multus-thick-behaviour.md §4.3; upstream
// trims around '/' and '@' and treats empty parts as absent).
func TestUpstreamTextSpellings(t *testing.T) {
	tests := []struct {
		name, value string
		want        []Selection
	}{
		{name: "spaces around slash and at", value: "other-ns / macvlan-conf @ net1",
			want: []Selection{{Name: "macvlan-conf", Namespace: "other-ns", Interface: "net1"}}},
		{name: "spaces in a list", value: "macvlan-conf@net1 , other-ns/ sriov-net @net2",
			want: []Selection{
				{Name: "macvlan-conf", Namespace: podNamespace, Interface: "net1"},
				{Name: "sriov-net", Namespace: "other-ns", Interface: "net2"},
			}},
		{name: "leading slash is the pod's namespace", value: "/macvlan-conf",
			want: []Selection{{Name: "macvlan-conf", Namespace: podNamespace}}},
		{name: "blank namespace is the pod's namespace", value: " / macvlan-conf@net1",
			want: []Selection{{Name: "macvlan-conf", Namespace: podNamespace, Interface: "net1"}}},
		{name: "trailing at is no interface name", value: "macvlan-conf@",
			want: []Selection{{Name: "macvlan-conf", Namespace: podNamespace}}},
		{name: "trailing at with blanks", value: "other-ns/macvlan-conf @ ",
			want: []Selection{{Name: "macvlan-conf", Namespace: "other-ns"}}},
		{name: "two trailing ats share no interface", value: "a@,b@",
			want: []Selection{{Name: "a", Namespace: podNamespace}, {Name: "b", Namespace: podNamespace}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.value, podNamespace)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.value, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Parse(%q) = %+v, want %+v", tc.value, got, tc.want)
			}
		})
	}
}

// What upstream rejects stays rejected: leniency covers blanks and empty
// optional parts only.
func TestUpstreamTextStillRejected(t *testing.T) {
	tests := []struct{ name, value, wantErr string }{
		{"blank name", "other-ns/ @net1", "name \"\" is not a DNS-1123 label"},
		{"only a slash", "/", "name \"\" is not a DNS-1123 label"},
		{"space inside the name", "macvlan conf", "not a DNS-1123 label"},
		{"space inside the interface", "a@net 1", "whitespace"},
		{"space inside the namespace", "my ns/a", "namespace \"my ns\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.value, podNamespace)
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Parse(%q) err = %v, want ErrInvalid containing %q", tc.value, err, tc.wantErr)
			}
		})
	}
}

func TestDefaultNamespaces(t *testing.T) {
	sels, err := Parse("a,other/b", podNamespace)
	if err != nil {
		t.Fatal(err)
	}
	if sels[0].Namespace != podNamespace || sels[1].Namespace != "other" {
		t.Errorf("namespaces = %q, %q", sels[0].Namespace, sels[1].Namespace)
	}
	d, err := ParseDefault("flannel", multusNamespace)
	if err != nil {
		t.Fatal(err)
	}
	if d.Namespace != multusNamespace {
		t.Errorf("default-network namespace = %q, want %q", d.Namespace, multusNamespace)
	}
	if _, err := ParseDefault("a,b", multusNamespace); !errors.Is(err, ErrInvalid) {
		t.Errorf("two default networks: err = %v, want ErrInvalid", err)
	}
}

// FuzzParse checks that Parse never panics, that whatever it accepts obeys
// the rules callers rely on, and that an accepted result marshals back
// into an annotation that parses to the same result.
func FuzzParse(f *testing.F) {
	for _, v := range annotationCases(f) {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, value string) {
		sels, err := Parse(value, podNamespace)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, s := range sels {
			if s.Name == "" || s.Namespace == "" {
				t.Fatalf("accepted selection without name or namespace: %+v", s)
			}
			if s.Interface != "" {
				if ValidateIfname(s.Interface) != nil || seen[s.Interface] {
					t.Fatalf("accepted bad or duplicate interface %q", s.Interface)
				}
				seen[s.Interface] = true
			}
		}
		if len(sels) == 0 || !utf8.ValidString(value) {
			return // JSON cannot carry invalid UTF-8 through a round trip
		}
		again, err := json.Marshal(sels)
		if err != nil {
			t.Fatalf("marshal accepted selections: %v", err)
		}
		back, err := Parse(string(again), "unused-ns")
		if err != nil {
			t.Fatalf("round trip of %s: %v", again, err)
		}
		want, _ := json.Marshal(back)
		if !bytes.Equal(again, want) {
			t.Fatalf("round trip changed the result:\n first: %s\nsecond: %s", again, want)
		}
	})
}
