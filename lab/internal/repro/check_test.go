package repro

import (
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/multus-thick/multus-thick/lab/internal/kube"
	"github.com/multus-thick/multus-thick/lab/internal/step"
)

// fakeNodes answers the read-only node queries of the checks and records every script.
type fakeNodes struct {
	onNode  map[string]bool   // executable paths present on every node
	sums    map[string]string // /opt/cni/bin/<type> sha256 on every node
	scripts []string
}

func (f *fakeNodes) Exec(_ context.Context, node string, _ io.Reader, stdout io.Writer, argv ...string) error {
	script := strings.Join(argv, " ")
	f.scripts = append(f.scripts, node+": "+script)
	args := argv[min(4, len(argv)):]
	switch {
	case strings.Contains(script, "sha256sum"):
		sum := f.sums[args[1]]
		if sum == "" {
			sum = "-"
		}
		_, _ = io.WriteString(stdout, sum+"\n-\n")
	case strings.Contains(script, "[ -x"):
		ans := "no"
		if f.onNode[args[0]] {
			ans = "yes"
		}
		_, _ = io.WriteString(stdout, ans+"\n")
	}
	return nil
}

func labObjects(delegateTimeout string) []k8sruntime.Object {
	node := func(name string, cp bool) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
		if cp {
			n.Labels["node-role.kubernetes.io/control-plane"] = ""
		}
		n.Status.NodeInfo.Architecture = runtime.GOARCH
		return n
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: daemonConfigMap, Namespace: daemonNamespace},
		Data:       map[string]string{daemonConfigKey: `{"cniVersion":"0.3.1","delegateTimeout":"` + delegateTimeout + `"}`},
	}
	return []k8sruntime.Object{node("mt-lab-control-plane", true), node("mt-lab-worker", false), node("mt-lab-worker2", false), cm}
}

// TestBadInputCreatesNothing runs Delegate with bad inputs against a fake cluster and fake
// nodes: each fails in the check step, with an error naming the culprit, and neither the
// API nor any node saw a write.
func TestBadInputCreatesNothing(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("the ELF cases are written for amd64 and arm64, not %s", runtime.GOARCH)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	otherMachine := uint16(183)
	if runtime.GOARCH == "arm64" {
		otherMachine = 62
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	goodNAD := write("nad.yaml", nadHead+"spec:\n  config: '{\"cniVersion\":\"1.0.0\",\"type\":\"broken\"}'\n")
	shippedNAD := write("shipped.yaml", nadHead+"spec:\n  config: '{\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"macvlan\"},{\"type\":\"tuning\"}]}'\n")
	plugin := write("broken", "#!/bin/sh\nexit 0\n")
	cases := []struct {
		name    string
		opts    Options
		nodes   *fakeNodes
		timeout string
		wantErr string
	}{
		{name: "NAD that is a Pod", opts: Options{NAD: write("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n")}, wantErr: "not a NetworkAttachmentDefinition"},
		{name: "NAD config that does not parse", opts: Options{NAD: write("bad.yaml", nadHead+"spec:\n  config: '{\"type\":'\n")}, wantErr: "spec.config: not a JSON object"},
		{name: "PLUGIN for another machine", opts: Options{NAD: goodNAD, Plugin: patchedBinary(t, 18, otherMachine)}, wantErr: "is built for"},
		{name: "PLUGIN that is a text file", opts: Options{NAD: goodNAD, Plugin: write("notes.txt", "my plugin")}, wantErr: "neither an ELF executable nor a #! script"},
		{name: "PLUGIN whose interpreter the node lacks", opts: Options{NAD: goodNAD, Plugin: write("py", "#!/usr/bin/python3\n")}, wantErr: "needs /usr/bin/python3"},
		{name: "PLUGIN that would replace a lab plugin", opts: Options{NAD: goodNAD, Plugin: plugin},
			nodes: &fakeNodes{onNode: map[string]bool{"/bin/sh": true}, sums: map[string]string{"broken": "0123"}}, wantErr: "already has a different /opt/cni/bin/broken"},
		{name: "NODE that is the control plane", opts: Options{NAD: goodNAD, Plugin: plugin, Node: "mt-lab-control-plane"}, wantErr: "NODE mt-lab-control-plane is a control-plane node"},
		{name: "NODE that does not exist", opts: Options{NAD: goodNAD, Plugin: plugin, Node: "worker9"}, wantErr: "NODE worker9 is not a node"},
		{name: "NAD type missing on the node without PLUGIN", opts: Options{NAD: shippedNAD},
			nodes: &fakeNodes{onNode: map[string]bool{"/opt/cni/bin/macvlan": true}}, wantErr: `NAD type "tuning" is not in /opt/cni/bin on node mt-lab-worker`},
		{name: "POD naming another network", opts: Options{NAD: goodNAD, Plugin: plugin, Pod: write("p.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    k8s.v1.cni.cncf.io/networks: other\nspec:\n  containers:\n  - name: c\n    image: x\n")}, wantErr: "does not name the NAD"},
		{name: "COUNT out of range", opts: Options{NAD: goodNAD, Count: MaxCount + 1}, wantErr: "COUNT=51"},
		{name: "a recorder that is not a binary", opts: Options{NAD: goodNAD, Plugin: plugin, Recorder: plugin}, wantErr: "the recorder"},
		{name: "a daemon delegateTimeout that does not parse", opts: Options{NAD: goodNAD, Plugin: plugin}, timeout: "soon", wantErr: `delegateTimeout "soon"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nodes := tc.nodes
			if nodes == nil {
				nodes = &fakeNodes{onNode: map[string]bool{"/bin/sh": true}}
			}
			timeout := tc.timeout
			if timeout == "" {
				timeout = "30s"
			}
			client := fakeClient(timeout)
			opts := tc.opts
			if opts.Recorder == "" {
				opts.Recorder = staticBinary(t, self)
			}
			opts.OutDir = filepath.Join(t.TempDir(), "repro")
			_, err := Delegate(context.Background(), testEnv(t, client, nodes), opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), `step "check PLUGIN, NAD, POD and NODE"`) {
				t.Errorf("err %v did not come from the check step", err)
			}
			assertNothingCreated(t, client, nodes, opts.OutDir)
		})
	}
	t.Run("good input passes the checks and still creates nothing", func(t *testing.T) {
		client, nodes := fakeClient("45s"), &fakeNodes{onNode: map[string]bool{"/bin/sh": true}}
		r := &run{opts: Options{NAD: goodNAD, Plugin: plugin, Count: 1, Recorder: staticBinary(t, self), OutDir: "out"},
			env: testEnv(t, client, nodes), start: time.Date(2026, 12, 2, 3, 4, 5, 0, time.UTC)}
		if err := r.check(context.Background(), io.Discard); err != nil {
			t.Fatal(err)
		}
		if r.node.Name != "mt-lab-worker" || r.pluginType != "broken" || r.delegateTimeout != 45*time.Second ||
			len(r.installOn) != 3 || r.namespace != "mt-repro-broken-beef" || r.dir != "out/broken-20261202T030405Z" {
			t.Errorf("check: node %s type %s timeout %s installOn %v ns %s dir %s", r.node.Name, r.pluginType, r.delegateTimeout, r.installOn, r.namespace, r.dir)
		}
		assertNothingCreated(t, client, nodes, "out")
	})
}

func fakeClient(delegateTimeout string) *fake.Clientset {
	return fake.NewClientset(labObjects(delegateTimeout)...)
}

func testEnv(t *testing.T, client *fake.Clientset, nodes Nodes) Env {
	return Env{
		Kube: &kube.Client{Core: client}, Nodes: nodes,
		Progress: &step.Reporter{Out: io.Discard, LogDir: t.TempDir()},
		Out:      io.Discard, Now: time.Now, Suffix: func() string { return "beef" },
	}
}

// staticBinary returns a static ELF for this machine: the test binary may link the C
// library, and the recorder must not; the repro's own checks reject one that does.
func staticBinary(t *testing.T, self string) string {
	t.Helper()
	if interp, err := CheckPluginFile(self, runtime.GOARCH); err == nil && interp == "" {
		return self
	}
	// Remove PT_INTERP by patching it to PT_NULL: the header stays valid for debug/elf.
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	patched := patchInterp(t, data)
	p := filepath.Join(t.TempDir(), "mt-repro-rec")
	if err := os.WriteFile(p, patched, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func assertNothingCreated(t *testing.T, client *fake.Clientset, nodes *fakeNodes, outDir string) {
	t.Helper()
	for _, a := range client.Actions() {
		if v := a.GetVerb(); v != "get" && v != "list" {
			t.Errorf("the API saw a %s of %s", v, a.GetResource().Resource)
		}
	}
	for _, s := range nodes.scripts {
		for _, w := range []string{"mv -f", "mkdir", "rm ", "ip netns add", "cat >"} {
			if strings.Contains(s, w) {
				t.Errorf("a node got a write (%q): %s", w, s)
			}
		}
	}
	if _, err := os.Stat(outDir); !os.IsNotExist(err) {
		t.Errorf("the evidence folder %s was made (%v)", outDir, err)
	}
}

// patchInterp turns a 64-bit little-endian ELF's PT_INTERP program header into PT_NULL.
func patchInterp(t *testing.T, data []byte) []byte {
	t.Helper()
	phoff := binary.LittleEndian.Uint64(data[32:])
	size := uint64(binary.LittleEndian.Uint16(data[54:]))
	num := uint64(binary.LittleEndian.Uint16(data[56:]))
	for i := uint64(0); i < num; i++ {
		at := phoff + i*size
		if binary.LittleEndian.Uint32(data[at:]) == 3 { // PT_INTERP
			binary.LittleEndian.PutUint32(data[at:], 0)
		}
	}
	return data
}
