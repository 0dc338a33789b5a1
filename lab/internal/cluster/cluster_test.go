package cluster

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestNodeCount(t *testing.T) {
	for _, tc := range []struct {
		name, cfg string
		want      int
	}{
		{"kind default is one node", "kind: Cluster\n", 1},
		{"control plane and two workers", "nodes:\n- role: control-plane\n- role: worker\n- role: worker\n", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := nodeCount([]byte(tc.cfg))
			if err != nil || got != tc.want {
				t.Fatalf("nodeCount = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestRepoKindConfigHasThreeNodes(t *testing.T) {
	data, err := os.ReadFile("../../../kind-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := nodeCount(data); err != nil || n != 3 {
		t.Fatalf("kind-config.yaml nodes = %d, %v; want 3", n, err)
	}
}

// The install script runs in the node with the node's sh and tar; run it
// here with the host's, which behave the same for this script.
func TestInstallScriptReplacesFilesAndLeavesOthers(t *testing.T) {
	for _, tool := range []string{"sh", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed: the lab needs it", tool)
		}
	}
	src := t.TempDir()
	dst := t.TempDir()
	write := func(dir, name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(src, "bridge", "new bridge")
	write(src, "macvlan", "new macvlan")
	write(dst, "bridge", "old bridge")
	write(dst, "multus-shim", "not ours")
	archive, err := tarFiles([]File{
		{Src: filepath.Join(src, "bridge"), Name: "bridge", Mode: 0o755},
		{Src: filepath.Join(src, "macvlan"), Name: "macvlan", Mode: 0o755},
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(context.Background(), "sh", "-c", installScript, "sh", dst)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(archive), &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("install script: %v: %s", err, out.String())
	}
	for name, want := range map[string]string{"bridge": "new bridge", "macvlan": "new macvlan", "multus-shim": "not ours"} {
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	st, err := os.Stat(filepath.Join(dst, "macvlan"))
	if err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("macvlan mode = %v, %v; want 0755", st.Mode(), err)
	}
	entries, _ := os.ReadDir(dst)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".mt-lab-stage") {
			t.Errorf("staging dir left behind: %s", e.Name())
		}
	}
}

func TestTarFilesMissingSource(t *testing.T) {
	_, err := tarFiles([]File{{Src: filepath.Join(t.TempDir(), "nope"), Name: "nope"}})
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("err = %v, want one naming the missing file", err)
	}
}

func TestWriterLoggerEndsLines(t *testing.T) {
	var b bytes.Buffer
	l := writerLogger{&b}
	l.Warnf("disk %d%%", 90)
	l.V(1).Info("created\n")
	if got, want := b.String(), "WARN: disk 90%\ncreated\n"; got != want {
		t.Fatalf("log = %q, want %q", got, want)
	}
}

func TestThawFrozen(t *testing.T) {
	root := t.TempDir()
	states := map[string]string{"a/freezer.state": "FROZEN\n", "a/b/freezer.state": "THAWED\n", "c/freezer.state": "FROZEN\n"}
	for p, s := range states {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if n := thawFrozen(root); n != 2 {
		t.Fatalf("thawed %d cgroups, want 2", n)
	}
	for p := range states {
		got, _ := os.ReadFile(filepath.Join(root, p))
		if strings.TrimSpace(string(got)) != "THAWED" {
			t.Errorf("%s = %q, want THAWED", p, got)
		}
	}
	if n := thawFrozen(filepath.Join(root, "missing")); n != 0 {
		t.Fatalf("thawed %d under a missing root (cgroup v2 host), want 0", n)
	}
}
