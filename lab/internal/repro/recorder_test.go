package repro

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakePlugin fails ADD with CNI error 11 when its config says so, exits 3 on DEL, and
// succeeds otherwise, echoing its config.
const fakePlugin = `#!/bin/sh
in=$(cat)
case "$CNI_COMMAND:$in" in
  ADD:*fail*) printf '{"cniVersion":"1.0.0","code":11,"msg":"boom"}'; exit 1 ;;
  DEL:*) echo "cannot delete $CNI_IFNAME" >&2; exit 3 ;;
esac
printf '%s' "$in"
`

// TestRecorderContract builds the real recorder (src/cmd/mt-repro-rec), runs it in front
// of a fake plugin, and reads what it recorded with this package's reader: the two sides
// of the on-node format cannot drift apart unnoticed.
func TestRecorderContract(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	bin, rec := t.TempDir(), t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, "mt-repro-fake"), "./src/cmd/mt-repro-rec")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the recorder: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(bin, "fake"), []byte(fakePlugin), 0o755); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		cmd, stdin string
		wantExit   int
	}{
		{"ADD", `{"cniVersion":"1.0.0","type":"mt-repro-fake"}`, 0},
		{"ADD", `{"cniVersion":"1.0.0","type":"mt-repro-fake","x":"fail"}`, 1},
		{"DEL", `{"cniVersion":"1.0.0","type":"mt-repro-fake"}`, 3},
	}
	for _, s := range steps {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "mt-repro-fake"))
		cmd.Env = []string{"MT_REPRO_RECORD_DIR=" + rec, "CNI_COMMAND=" + s.cmd, "CNI_CONTAINERID=c0ffee", "CNI_IFNAME=net1",
			"CNI_NETNS=/var/run/netns/x", "CNI_PATH=" + bin, "CNI_ARGS=K8S_POD_NAMESPACE=mt-repro-t;K8S_POD_NAME=repro", "PATH=/usr/bin:/bin"}
		cmd.Stdin = strings.NewReader(s.stdin)
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != s.wantExit {
			t.Fatalf("%s: exit %d, want %d (stdout %q)", s.cmd, code, s.wantExit, stdout.String())
		}
	}
	calls, err := ReadCalls(filepath.Join(rec, "mt-repro-t"))
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != len(steps) {
		t.Fatalf("%d calls read, want %d", len(calls), len(steps))
	}
	for i, s := range steps {
		c := calls[i]
		if c.Meta.Command != s.cmd || c.Meta.Type != "fake" || c.Meta.ContainerID != "c0ffee" || c.Meta.Pod != "repro" ||
			string(c.Stdin) != s.stdin || c.Exit == nil || c.Exit.Code != s.wantExit {
			t.Errorf("call %d: %+v exit %+v stdin %q", i, c.Meta, c.Exit, c.Stdin)
		}
		if !strings.Contains(strings.Join(c.Env, "\n"), "CNI_ARGS=K8S_POD_NAMESPACE=mt-repro-t;K8S_POD_NAME=repro") {
			t.Errorf("call %d env %v", i, c.Env)
		}
	}
	sum := Summarize(SummaryInput{Name: "t", Dir: rec, DelegateTimeout: time.Minute, Calls: calls})
	if f := sum.FirstFailure; f == nil || f.Index != 2 || f.Command != "ADD" || f.CNICode != 11 || *f.ExitCode != 1 {
		t.Errorf("first failure %+v, want #2 ADD exit 1 CNI 11", f)
	}
	if !strings.Contains(string(calls[2].Stderr), "cannot delete net1") {
		t.Errorf("DEL stderr %q", calls[2].Stderr)
	}
}
