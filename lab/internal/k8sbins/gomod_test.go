package k8sbins

import (
	"strings"
	"testing"
)

// modEditJSON is trimmed `go mod edit -json` output of a kubernetes go.mod.
const modEditJSON = `{
	"Module": {"Path": "k8s.io/kubernetes"},
	"Go": "1.25.0",
	"Require": [{"Path": "k8s.io/api", "Version": "v0.0.0"}],
	"Replace": [
		{"Old": {"Path": "k8s.io/client-go"}, "New": {"Path": "./staging/src/k8s.io/client-go"}},
		{"Old": {"Path": "k8s.io/api"}, "New": {"Path": "./staging/src/k8s.io/api"}},
		{"Old": {"Path": "github.com/example/fork"}, "New": {"Path": "github.com/example/fork", "Version": "v1.2.3"}},
		{"Old": {"Path": "k8s.io/streaming"}, "New": {"Path": "./staging/src/k8s.io/streaming"}}
	]
}`

func TestGenerateGoMod(t *testing.T) {
	t.Parallel()
	replaces, err := ParseModEditJSON([]byte(modEditJSON))
	if err != nil {
		t.Fatal(err)
	}
	got, err := GenerateGoMod("v1.37.2", "1.26.0", replaces)
	if err != nil {
		t.Fatal(err)
	}
	want := `module local/k8swrap

go 1.26.0

require k8s.io/kubernetes v1.37.2

replace (
	k8s.io/api => k8s.io/api v0.37.2
	k8s.io/client-go => k8s.io/client-go v0.37.2
	k8s.io/streaming => k8s.io/streaming v0.37.2
)
`
	if string(got) != want {
		t.Errorf("go.mod =\n%s\nwant\n%s", got, want)
	}
}

func TestGenerateGoModErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		version  string
		replaces string
		wantErr  string
	}{
		{"no staging replaces", "v1.37.2", `{"Replace": [{"Old": {"Path": "a"}, "New": {"Path": "b", "Version": "v1"}}]}`, "no staging"},
		{"not a v1 version", "v2.0.0", modEditJSON, "not v1"},
		{"missing patch", "v1.37", modEditJSON, "not v1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			replaces, err := ParseModEditJSON([]byte(tc.replaces))
			if err != nil {
				t.Fatal(err)
			}
			_, err = GenerateGoMod(tc.version, "1.26.0", replaces)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestGenerateTools(t *testing.T) {
	t.Parallel()
	got := string(GenerateTools([]string{"k8s.io/kubernetes/cmd/kubelet", "go.etcd.io/etcd/server/v3"}))
	want := "//go:build tools\n\npackage tools\n\nimport (\n\t_ \"k8s.io/kubernetes/cmd/kubelet\"\n\t_ \"go.etcd.io/etcd/server/v3\"\n)\n"
	if got != want {
		t.Errorf("tools.go =\n%s\nwant\n%s", got, want)
	}
}
