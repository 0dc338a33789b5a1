//go:build netns

package repro

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multus-thick/multus-thick/lab/internal/step"
)

// hostNodes runs a "node's" programs on this host: the replay script, the state snapshot
// and the netns handling are the same programs a kind node runs (Debian's).
type hostNodes struct{}

func (hostNodes) Exec(ctx context.Context, _ string, stdin io.Reader, stdout io.Writer, argv ...string) error {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, &stderr
	if cmd.Stdout == nil {
		cmd.Stdout = io.Discard
	}
	if err := cmd.Run(); err != nil {
		return errors.Join(err, errors.New(stderr.String()))
	}
	return nil
}

// TestReplayOnHost records calls with the real recorder in front of the real cni-fault,
// then replays the folder on this host as repro-replay does on a node: the same exit
// codes, the CNI error code, a DEL scripted to fail once failing once again, a hang cut
// off at the recorded delegate deadline, and a cleanup DEL for the ADD the recording left
// without one.
func TestReplayOnHost(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (netns)")
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The replay removes its own dir under replayRoot; the (then empty) root goes too.
	t.Cleanup(func() { _ = os.Remove(replayRoot) })
	bin := t.TempDir()
	for out, pkg := range map[string]string{"broken": "./src/cmd/cni-fault", recorderPrefix + "broken": "./src/cmd/mt-repro-rec"} {
		b := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, out), pkg)
		b.Dir, b.Env = root, append(os.Environ(), "CGO_ENABLED=0")
		if o, err := b.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, o)
		}
	}
	ev := t.TempDir()
	rec := filepath.Join(ev, "rawcalls")
	conf := func(fault string) string {
		return `{"cniVersion":"1.0.0","name":"broken","type":"mt-repro-broken"` + fault + `}`
	}
	record := func(cmd, id, stdin string) {
		t.Helper()
		c := exec.CommandContext(ctx, filepath.Join(bin, recorderPrefix+"broken"))
		c.Env = []string{"MT_REPRO_RECORD_DIR=" + rec, "CNI_COMMAND=" + cmd, "CNI_CONTAINERID=" + id, "CNI_IFNAME=net1",
			"CNI_NETNS=/var/run/netns/cni-gone", "CNI_PATH=/opt/cni/bin", "CNI_ARGS=K8S_POD_NAMESPACE=ns;K8S_POD_NAME=repro", "PATH=/usr/bin:/bin"}
		c.Stdin = strings.NewReader(stdin)
		var ee *exec.ExitError
		if err := c.Run(); err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
	}
	// c1's DEL fails once ("times" counts in <recordFile>.state): the recording saw the
	// first DEL fail and the retry succeed, and so must the replay, from fresh counts.
	faultLog := filepath.Join(t.TempDir(), "broken.log")
	delOnce := `,"recordFile":"` + faultLog + `","fault":{"del":{"code":7,"times":1}}`
	record("ADD", "c1", conf(`,"fault":{"add":{"code":11,"msg":"boom"}}`))
	record("DEL", "c1", conf(delOnce))
	record("DEL", "c1", conf(delOnce))
	record("ADD", "c2", conf(""))
	// A hang cannot be recorded here without hanging: a CHECK is recorded, then given the
	// hang config and stripped of its exit, as when the daemon's deadline killed it.
	record("CHECK", "c3", conf(""))
	calls := filepath.Join(ev, "calls")
	if err := os.Rename(filepath.Join(rec, "ns"), calls); err != nil {
		t.Fatal(err)
	}
	hung, _ := filepath.Glob(filepath.Join(calls, "*-CHECK"))
	if len(hung) != 1 {
		t.Fatalf("CHECK call dirs %v", hung)
	}
	if err := os.Remove(filepath.Join(hung[0], fileExit)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hung[0], fileStdin), []byte(conf(`,"fault":{"check":{"hang":true}}`)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(ev, "plugin"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(bin, "broken"))
	if err := os.WriteFile(filepath.Join(ev, "plugin", "broken"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	m, _ := json.Marshal(Manifest{Name: "broken", Node: "host", Types: []string{"broken"}, PluginType: "broken", PluginFile: "plugin/broken", DelegateTimeout: "2s"})
	if err := os.WriteFile(filepath.Join(ev, "repro.json"), m, 0o644); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	rep, err := Replay(ctx, ReplayEnv{
		Nodes: hostNodes{}, Progress: &step.Reporter{Out: io.Discard, LogDir: t.TempDir()}, Out: &out,
		Now: time.Now, Suffix: func() string { return "t" + time.Now().Format("150405") },
	}, ReplayOptions{Dir: ev})
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out.String())
	}
	t.Log(out.String())
	type want struct {
		cmd       string
		exit, cni int
		cutOff    bool
	}
	wants := []want{{"ADD", 1, 11, false}, {"DEL", 1, 7, false}, {"DEL", 0, 0, false}, {"ADD", 0, 0, false}, {"CHECK", 137, 0, true}}
	if len(rep.Calls) != len(wants) {
		t.Fatalf("%d calls replayed, want %d", len(rep.Calls), len(wants))
	}
	for i, w := range wants {
		c := rep.Calls[i]
		if c.Command != w.cmd || c.ReplayExit != w.exit || c.ReplayCNI != w.cni || c.CutOff != w.cutOff || !c.Same {
			t.Errorf("call %d: %+v, want %+v and the same as recorded", i+1, c, w)
		}
	}
	if !rep.AllSame {
		t.Error("AllSame is false")
	}
	if len(rep.Cleanup) != 1 || rep.Cleanup[0].ContainerID != "c2" || rep.Cleanup[0].Command != "DEL" || rep.Cleanup[0].ReplayExit != 0 {
		t.Errorf("cleanup %+v, want one DEL for c2's ADD", rep.Cleanup)
	}
	if _, err := os.Stat("/var/run/netns/" + strings.TrimPrefix(rep.Netns, "/var/run/netns/")); !os.IsNotExist(err) {
		t.Errorf("the throwaway netns %s is still there (%v)", rep.Netns, err)
	}
	if _, err := os.Stat(faultLog + ".state"); !os.IsNotExist(err) {
		t.Errorf("the replay left cni-fault's counters %s.state (%v)", faultLog, err)
	}
	if !strings.Contains(out.String(), "every call ended as recorded") {
		t.Errorf("render:\n%s", out.String())
	}
	outs, _ := filepath.Glob(filepath.Join(ev, "replay-*", "replay.json"))
	if len(outs) != 1 {
		t.Errorf("replay.json files %v", outs)
	}
}
