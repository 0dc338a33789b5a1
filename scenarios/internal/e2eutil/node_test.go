//go:build e2e

package e2eutil

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
)

// localRunner runs `docker exec <node> cmd...` as cmd on this machine, so
// the node scripts are tested against a real shell and real files.
type localRunner struct{}

func (localRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	if name == "docker" && len(args) > 2 && args[0] == "exec" {
		return ExecRunner{}.Run(ctx, args[2], args[3:]...)
	}
	return ExecRunner{}.Run(ctx, name, args...)
}

func TestNodeScripts(t *testing.T) {
	ctx := context.Background()
	n := Nodes{Shell: DockerShell{Run: localRunner{}}}
	dir := t.TempDir()
	net := filepath.Join(dir, "networks", "mt-macvlan-low")
	if err := os.MkdirAll(net, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"10.77.0.10":            "aaaa1111\r\nnet1",
		"10.77.0.11":            "bbbb2222\r\ndata0",
		"last_reserved_ip.0":    "10.77.0.11",
		"lock":                  "",
		"../../multus/aaaa1111": "{}",
		"../../multus/results/mt-macvlan-low-aaaa1111-net1": "{}",
		"../../multus/results/mt-macvlan-low-cccc3333-net1": "{}",
	}
	for name, body := range files {
		p := filepath.Join(net, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("leases skip bookkeeping files", func(t *testing.T) {
		got, err := n.HostLocalLeases(ctx, "node", filepath.Join(dir, "networks"), "mt-macvlan-low")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"10.77.0.10": "aaaa1111", "10.77.0.11": "bbbb2222"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("leases of a network never used", func(t *testing.T) {
		got, err := n.HostLocalLeases(ctx, "node", filepath.Join(dir, "networks"), "absent")
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v, %v; want none", got, err)
		}
	})
	t.Run("files named after sandboxes", func(t *testing.T) {
		got, err := n.FilesMentioning(ctx, "node", filepath.Join(dir, "multus"), []string{"aaaa1111", "dddd4444"})
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(got)
		want := []string{filepath.Join(dir, "multus", "aaaa1111"), filepath.Join(dir, "multus", "results", "mt-macvlan-low-aaaa1111-net1")}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		if got, err := n.FilesMentioning(ctx, "node", filepath.Join(dir, "nowhere"), []string{"aaaa1111"}); err != nil || len(got) != 0 {
			t.Fatalf("missing dir: got %v, %v", got, err)
		}
	})
	t.Run("processes by command name", func(t *testing.T) {
		got, err := n.Processes(ctx, "node", "no-such-command-xyz")
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v, %v", got, err)
		}
		// The script itself runs under sh, so sh is always there.
		got, err = n.Processes(ctx, "node", "sh")
		if err != nil || len(got) == 0 {
			t.Fatalf("the script's own sh not found: %v, %v", got, err)
		}
	})
}
