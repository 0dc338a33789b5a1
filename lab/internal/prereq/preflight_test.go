package prereq

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"
)

// fakeHost has the programs in have; apt-get install adds the packages' commands when
// installWorks.
type fakeHost struct {
	have         map[string]bool
	installWorks bool
	calls        []string
}

func (f *fakeHost) host(pkgs []Package) Host {
	return Host{
		LookPath: func(name string) (string, error) {
			if f.have[name] {
				return "/usr/bin/" + name, nil
			}
			return "", errors.New("not found")
		},
		Stat: func(path string) (os.FileInfo, error) {
			if f.have[path] {
				return nil, nil
			}
			return nil, fs.ErrNotExist
		},
		Run: func(_ context.Context, _ io.Writer, name string, args ...string) error {
			f.calls = append(f.calls, name+" "+strings.Join(args, " "))
			if len(args) > 0 && args[0] == "install" {
				if !f.installWorks {
					return errors.New("E: Unable to locate package")
				}
				for _, p := range pkgs {
					for _, want := range args {
						if want == p.Name {
							for _, c := range append(append([]string{}, p.Commands...), p.Files...) {
								f.have[c] = true
							}
						}
					}
				}
			}
			return nil
		},
	}
}

func TestEnsure(t *testing.T) {
	pkgs := []Package{
		{Name: "debootstrap", Commands: []string{"debootstrap"}, Why: "bake"},
		{Name: "docker.io", Commands: []string{"dockerd", "runc"}, Why: "lab"},
		{Name: "time", Files: []string{"/usr/bin/time"}, Why: "bench"},
	}
	tools := []Toolchain{{Command: "go", Why: "builds"}}
	all := map[string]bool{"go": true, "apt-get": true, "debootstrap": true, "dockerd": true, "runc": true, "/usr/bin/time": true}
	without := func(names ...string) map[string]bool {
		m := map[string]bool{}
		for k, v := range all {
			m[k] = v
		}
		for _, n := range names {
			delete(m, n)
		}
		return m
	}
	cases := []struct {
		name         string
		have         map[string]bool
		installWorks bool
		checkOnly    bool
		wantErr      []string // substrings of the error; nil means success
		wantCalls    []string
		wantOut      string
	}{
		{name: "all present: no apt", have: all, wantOut: "5 host prerequisites present"},
		{
			name: "missing packages: one update, one install of each package once", have: without("debootstrap", "dockerd", "runc", "/usr/bin/time"),
			installWorks: true,
			wantCalls:    []string{"apt-get update -q", "apt-get install -y -q --no-install-recommends debootstrap docker.io time"},
			wantOut:      "installed debootstrap docker.io time",
		},
		{
			name: "check only names package and program, installs nothing", have: without("runc"), checkOnly: true,
			wantErr: []string{"runc from docker.io (lab)"},
		},
		{
			name: "toolchain missing: stops before apt", have: without("go", "debootstrap"),
			wantErr: []string{"go (builds)", "apt cannot install"},
		},
		{
			name: "no apt-get: names what to install", have: without("apt-get", "debootstrap"),
			wantErr: []string{"no apt-get", "install debootstrap yourself", "debootstrap from debootstrap (bake)"},
		},
		{
			name: "apt cannot install: names the package and who needs it", have: without("debootstrap"),
			wantErr:   []string{"apt-get install debootstrap", "Unable to locate package", "debootstrap from debootstrap (bake)"},
			wantCalls: []string{"apt-get update -q", "apt-get install -y -q --no-install-recommends debootstrap"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeHost{have: tc.have, installWorks: tc.installWorks}
			var out bytes.Buffer
			err := f.host(pkgs).Ensure(context.Background(), pkgs, tools, Options{CheckOnly: tc.checkOnly, Out: &out, Log: io.Discard})
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Ensure: %v", err)
				}
			} else {
				if err == nil {
					t.Fatal("Ensure succeeded, want an error")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
			}
			if !reflect.DeepEqual(f.calls, tc.wantCalls) {
				t.Errorf("apt calls = %q, want %q", f.calls, tc.wantCalls)
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("output %q does not contain %q", out.String(), tc.wantOut)
			}
		})
	}
}

func TestShellSegments(t *testing.T) {
	cases := []struct {
		in   string
		want []string // the command word of each segment that has one
	}{
		{`ln -sfn "$(command -v etcd)" /x/etcd`, []string{"ln"}},
		{`test -z "$(gofmt -l src 2>/dev/null)" || { gofmt -l src; exit 1; }`, []string{"gofmt", "gofmt"}},
		{`for p in a b; do GOBIN=/x CGO_ENABLED=0 go install $p; done`, []string{"go"}},
		{`awk 'BEGIN {FS = ":.*##"; printf "x"}' Makefile`, []string{"awk"}},
		{`docker ps -q --filter label=x | grep -q . >/dev/null 2>&1`, []string{"docker", "grep"}},
		{`mkdir -p /a && ./bin/mt-bench -mode full | tee out`, []string{"mkdir", "./bin/mt-bench", "tee"}},
	}
	for _, tc := range cases {
		var got []string
		for _, seg := range shellSegments(tc.in) {
			if w := commandWord(seg); w != "" {
				got = append(got, w)
			}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: commands %q, want %q", tc.in, got, tc.want)
		}
	}
}
