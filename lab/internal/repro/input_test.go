package repro

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/multus-thick/multus-thick/src/api"
)

// patchedBinary copies the test binary (an ELF for this machine) and overwrites the
// 16-bit header field at off with v.
func patchedBinary(t *testing.T, off int, v uint16) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint16(data[off:], v)
	p := filepath.Join(t.TempDir(), "plugin")
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckPluginFile(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("the cases are written for amd64 and arm64 hosts, not %s", runtime.GOARCH)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	other, otherMachine := "arm64", uint16(183) // EM_AARCH64
	if runtime.GOARCH == "arm64" {
		other, otherMachine = "amd64", 62 // EM_X86_64
	}
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, path, arch string
		wantInterp       string
		wantErr          string
	}{
		// The test binary links the C library or not, depending on the toolchain: "*" takes
		// either, the script case checks the interpreter exactly.
		{name: "this machine's binary", path: self, arch: runtime.GOARCH, wantInterp: "*"},
		{name: "the same binary on another architecture", path: self, arch: other, wantErr: "rebuild it with GOARCH=" + other},
		{name: "a binary for another machine", path: patchedBinary(t, 18, otherMachine), arch: runtime.GOARCH, wantErr: "is built for"},
		{name: "a relocatable object", path: patchedBinary(t, 16, 1), arch: runtime.GOARCH, wantErr: "not an executable"},
		{name: "a script", path: file("s", "#!/bin/sh -e\necho hi\n"), arch: runtime.GOARCH, wantInterp: "/bin/sh"},
		{name: "a script without an absolute interpreter", path: file("r", "#! sh\n"), arch: runtime.GOARCH, wantErr: "no absolute interpreter"},
		{name: "a text file", path: file("t", "hello"), arch: runtime.GOARCH, wantErr: "neither an ELF executable nor a #! script"},
		{name: "a truncated ELF", path: file("e", "\x7fELF\x02\x01"), arch: runtime.GOARCH, wantErr: "bad ELF header"},
		{name: "a directory", path: dir, arch: runtime.GOARCH, wantErr: "not a regular file"},
		{name: "a missing file", path: filepath.Join(dir, "nope"), arch: runtime.GOARCH, wantErr: "no such file"},
		{name: "an unknown node architecture", path: self, arch: "mips", wantErr: `architecture "mips"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			interp, err := CheckPluginFile(tc.path, tc.arch)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), "PLUGIN") && !strings.Contains(err.Error(), "architecture") {
					t.Errorf("err %q does not name PLUGIN", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantInterp == "*" && (interp == "" || filepath.IsAbs(interp)) {
				return
			}
			if interp != tc.wantInterp {
				t.Errorf("interpreter %q, want %q", interp, tc.wantInterp)
			}
		})
	}
}

const nadHead = "apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: broken\n"

func TestParseNAD(t *testing.T) {
	cases := []struct {
		name      string
		file      string
		wantTypes []string
		wantErr   string
	}{
		{name: "single plugin", file: nadHead + "spec:\n  config: '{\"cniVersion\":\"1.0.0\",\"type\":\"my-plugin\"}'\n", wantTypes: []string{"my-plugin"}},
		{name: "conflist", file: nadHead + "spec:\n  config: '{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"plugins\":[{\"type\":\"macvlan\"},{\"type\":\"my-plugin\"}]}'\n", wantTypes: []string{"macvlan", "my-plugin"}},
		{name: "leading document marker and comments", file: "# mine\n---\n" + nadHead + "spec:\n  config: '{\"type\":\"a\"}'\n", wantTypes: []string{"a"}},
		{name: "a Pod", file: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n", wantErr: `is a "Pod" of "v1", not a NetworkAttachmentDefinition`},
		{name: "wrong group", file: "apiVersion: k8s.cni.cncf.io/v2\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: x\n", wantErr: "not a NetworkAttachmentDefinition of k8s.cni.cncf.io/v1"},
		{name: "not YAML", file: "\t: : [", wantErr: "is not YAML"},
		{name: "two documents", file: nadHead + "---\n" + nadHead, wantErr: "2 YAML documents"},
		{name: "empty", file: "# nothing\n", wantErr: "empty"},
		{name: "bad name", file: strings.Replace(nadHead, "broken", "Broken_Net", 1) + "spec:\n  config: '{\"type\":\"a\"}'\n", wantErr: "not a DNS label"},
		{name: "no config", file: nadHead + "spec: {}\n", wantErr: "has no spec.config"},
		{name: "config not JSON", file: nadHead + "spec:\n  config: '{\"type\": \"a\",'\n", wantErr: "spec.config: not a JSON object"},
		{name: "config without type", file: nadHead + "spec:\n  config: '{\"cniVersion\":\"1.0.0\"}'\n", wantErr: "the config has no type"},
		{name: "conflist plugin without type", file: nadHead + "spec:\n  config: '{\"plugins\":[{\"type\":\"a\"},{\"mtu\":1}]}'\n", wantErr: "plugins[1] has no type"},
		{name: "empty conflist", file: nadHead + "spec:\n  config: '{\"plugins\":[]}'\n", wantErr: "plugins is empty"},
		{name: "type with a path", file: nadHead + "spec:\n  config: '{\"type\":\"../bin/sh\"}'\n", wantErr: "not a plugin name"},
		{name: "type not a string", file: nadHead + "spec:\n  config: '{\"type\":7}'\n", wantErr: "not a plugin name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nad, err := ParseNAD("nad.yaml", []byte(tc.file))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "NAD nad.yaml") {
					t.Fatalf("err = %v, want one naming NAD nad.yaml and %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if nad.Name != "broken" || strings.Join(nad.Types, ",") != strings.Join(tc.wantTypes, ",") {
				t.Errorf("got %s %v, want broken %v", nad.Name, nad.Types, tc.wantTypes)
			}
		})
	}
}

func TestNADWrappedAndPluginType(t *testing.T) {
	nad, err := ParseNAD("n", []byte(nadHead+"spec:\n  config: '{\"cniVersion\":\"1.0.0\",\"name\":\"x\",\"plugins\":[{\"type\":\"macvlan\",\"ipam\":{\"type\":\"host-local\"}},{\"type\":\"my-plugin\",\"fault\":{\"add\":{\"code\":11}}}]}'\n"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := nad.Wrapped(func(t string) string { return "mt-repro-" + t })
	if err != nil {
		t.Fatal(err)
	}
	want := `{"cniVersion":"1.0.0","name":"x","plugins":[{"ipam":{"type":"host-local"},"type":"mt-repro-macvlan"},{"fault":{"add":{"code":11}},"type":"mt-repro-my-plugin"}]}`
	if string(got) != want {
		t.Errorf("wrapped\n%s\nwant\n%s", got, want)
	}
	for _, tc := range []struct{ plugin, want, wantErr string }{
		{"/tmp/my-plugin", "my-plugin", ""},
		{"bin/macvlan", "macvlan", ""},
		{"/tmp/other", "", "none of the NAD's types [macvlan my-plugin]"},
	} {
		typ, err := nad.PluginType(tc.plugin)
		if typ != tc.want || (tc.wantErr != "") != (err != nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("PluginType(%s) = %q, %v; want %q %q", tc.plugin, typ, err, tc.want, tc.wantErr)
		}
	}
	single, err := ParseNAD("n", []byte(nadHead+"spec:\n  config: '{\"type\":\"cni-fault\"}'\n"))
	if err != nil {
		t.Fatal(err)
	}
	if typ, err := single.PluginType("/tmp/build/whatever"); typ != "cni-fault" || err != nil {
		t.Errorf("a single-type NAD takes any file name: %q %v", typ, err)
	}
}

func TestParsePod(t *testing.T) {
	const head = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: mine\n"
	const spec = "spec:\n  containers:\n  - name: c\n    image: localhost/mt-testpod:lab\n"
	cases := []struct {
		name, file, wantErr, wantAnn string
	}{
		{name: "annotation added", file: head + spec, wantAnn: "broken"},
		{name: "annotation naming the NAD", file: head + "  annotations:\n    k8s.v1.cni.cncf.io/networks: '[{\"name\":\"broken\",\"interface\":\"net9\"}]'\n" + spec, wantAnn: `[{"name":"broken","interface":"net9"}]`},
		{name: "annotation naming another NAD", file: head + "  annotations:\n    k8s.v1.cni.cncf.io/networks: other\n" + spec, wantErr: `does not name the NAD "broken"`},
		{name: "not a pod", file: nadHead, wantErr: "not a v1 Pod"},
		{name: "no containers", file: head + "spec: {}\n", wantErr: "has no containers"},
		{name: "unknown field", file: head + spec + "  bogus: 1\n", wantErr: "bogus"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod, err := ParsePod("pod.yaml", []byte(tc.file), "broken")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "POD pod.yaml") {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := pod.Annotations[api.NetworksAnnotation]; got != tc.wantAnn {
				t.Errorf("annotation %q, want %q", got, tc.wantAnn)
			}
		})
	}
}

func TestPickNode(t *testing.T) {
	nodes := []NodeInfo{
		{Name: "mt-lab-control-plane", ControlPlane: true, Arch: "amd64"},
		{Name: "mt-lab-worker2", Arch: "amd64"},
		{Name: "mt-lab-worker", Arch: "amd64"},
	}
	cases := []struct{ want, got, wantErr string }{
		{want: "", got: "mt-lab-worker"},
		{want: "mt-lab-worker2", got: "mt-lab-worker2"},
		{want: "mt-lab-control-plane", wantErr: "is a control-plane node, not a worker (workers: [mt-lab-worker mt-lab-worker2])"},
		{want: "elsewhere", wantErr: "NODE elsewhere is not a node of the cluster"},
	}
	for _, tc := range cases {
		n, err := PickNode(nodes, tc.want)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("PickNode(%q): err %v, want %q", tc.want, err, tc.wantErr)
			}
			continue
		}
		if err != nil || n.Name != tc.got {
			t.Errorf("PickNode(%q) = %q, %v; want %q", tc.want, n.Name, err, tc.got)
		}
	}
	if _, err := PickNode(nodes[:1], ""); err == nil || !strings.Contains(err.Error(), "no worker") {
		t.Errorf("a cluster without workers: %v", err)
	}
}

func TestNamespaceName(t *testing.T) {
	long := strings.Repeat("a", 70)
	for _, nad := range []string{"broken", long, strings.Repeat("ab-", 20)} {
		ns := namespaceName(nad, "beef")
		if len(ns) > 63 || !dnsLabel.MatchString(ns) || !strings.HasSuffix(ns, "-beef") || !strings.HasPrefix(ns, "mt-repro-") {
			t.Errorf("namespaceName(%q) = %q", nad, ns)
		}
	}
}
