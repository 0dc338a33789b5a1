//go:build e2e

package scenarios

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
)

// reproSummary is the part of repro-delegate's summary.json (lab/internal/repro) this
// scenario checks; the lab's packages are internal to lab/, so the file is the contract.
type reproSummary struct {
	Namespace    string `json:"namespace"`
	Node         string `json:"node"`
	Calls        int    `json:"calls"`
	FailedCalls  int    `json:"failedCalls"`
	ByCommand    map[string]int
	FirstFailure *struct {
		Index    int    `json:"index"`
		Command  string `json:"command"`
		Type     string `json:"type"`
		ExitCode *int   `json:"exitCode"`
		CNICode  int    `json:"cniCode"`
		Error    string `json:"error"`
	} `json:"firstFailure"`
	Pods []struct {
		Name    string `json:"name"`
		Outcome string `json:"outcome"`
		Message string `json:"message"`
	} `json:"pods"`
	Leftovers []string `json:"leftovers"`
}

type replayReport struct {
	Calls []struct {
		Index        int    `json:"index"`
		Command      string `json:"command"`
		ContainerID  string `json:"containerID"`
		RecordedExit *int   `json:"recordedExit"`
		RecordedCNI  int    `json:"recordedCNICode"`
		ReplayExit   int    `json:"replayExit"`
		ReplayCNI    int    `json:"replayCNICode"`
		Same         bool   `json:"same"`
	} `json:"calls"`
	Leftovers []string `json:"leftovers"`
	AllSame   bool     `json:"allSame"`
}

// make repro-delegate with a contributor's plugin (cni-fault copied as "broken-plugin",
// scripted to fail ADD with CNI error 11 and each container's first DEL with 7) and the
// README's NAD, then make repro-replay on its folder. The summary must name the failing
// ADD as the first failing call, with its exit code and CNI code; the failed DEL must be
// recorded and then retried by the daemon with success; the replay must end every call as
// recorded (the failed ADD and the failed DEL with the same exit code and CNI code); the
// lab keeps nothing: no namespace, no recorder or plugin on the nodes, no leftovers on the
// node (the retried DEL released everything).
func TestReproDelegate(t *testing.T) {
	f := features.New("repro-delegate").
		WithLabel("area", "repro").
		WithLabel("profile", "extended").
		Assess("the summary names the failing ADD and the replay reproduces the failed ADD's and DEL's exit codes", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			root, err := filepath.Abs("..")
			if err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			bin := filepath.Join(tmp, "bin")
			build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin+"/", "./src/cmd/cni-fault", "./src/cmd/mt-repro-rec", "./lab/cmd/lab")
			build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("build: %v\n%s", err, out)
			}
			// The contributor's plugin: any file name works for a single-type NAD; this one
			// matches the type, as the README's example does.
			plugin := filepath.Join(tmp, "broken-plugin")
			if err := os.Rename(filepath.Join(bin, "cni-fault"), plugin); err != nil {
				t.Fatal(err)
			}
			artifacts := filepath.Join(tmp, "artifacts")
			labCmd := func(args ...string) string {
				t.Helper()
				cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(cctx, filepath.Join(bin, "lab"), args...)
				cmd.Dir = root
				cmd.Env = append(os.Environ(), "LAB_CLUSTER="+lab.S.Cluster, "LAB_KUBECONFIG="+filepath.Join(tmp, "kubeconfig"),
					"ARTIFACTS="+artifacts, "MT_LOG_DIR="+filepath.Join(artifacts, "lab"))
				out, err := cmd.CombinedOutput()
				t.Logf("lab %s:\n%s", strings.Join(args, " "), out)
				if err != nil {
					t.Fatalf("lab %s: %v", args[0], err)
				}
				return string(out)
			}
			out := labCmd("repro-delegate", "NAD=fixtures/nad/repro-broken-plugin.yaml", "PLUGIN="+plugin,
				"NODE="+workers[0], "RECORDER="+filepath.Join(bin, "mt-repro-rec"))
			dirs, _ := filepath.Glob(filepath.Join(artifacts, "repro", "broken-plugin-*"))
			if len(dirs) != 1 {
				t.Fatalf("evidence folders %v, want one", dirs)
			}
			dir := dirs[0]
			var sum reproSummary
			readJSON(t, filepath.Join(dir, "summary.json"), &sum)
			ff := sum.FirstFailure
			if ff == nil || ff.Command != "ADD" || ff.Type != "broken-plugin" || ff.ExitCode == nil || *ff.ExitCode != 1 ||
				ff.CNICode != 11 || !strings.Contains(ff.Error, "the vendor agent does not answer") {
				t.Fatalf("first failing call %+v, want ADD broken-plugin exit 1 CNI 11 with the plugin's message", ff)
			}
			if !strings.Contains(out, "first failing call: #") || !strings.Contains(out, "CNI error 11") {
				t.Errorf("the terminal summary does not name the first failing call")
			}
			if len(sum.Pods) != 1 || sum.Pods[0].Outcome != "failed" || !strings.Contains(sum.Pods[0].Message, "11") {
				t.Errorf("pods %+v, want one failed with the CNI code in its event", sum.Pods)
			}
			if sum.ByCommand["DEL"] < 2 || sum.FailedCalls < 2 {
				t.Errorf("calls %v, %d failed: want the failing ADD, the failing DEL and its retry recorded", sum.ByCommand, sum.FailedCalls)
			}
			if len(sum.Leftovers) != 0 {
				t.Errorf("leftovers on %s: %v", sum.Node, sum.Leftovers)
			}
			for _, f := range []string{"repro.json", "nad.yaml", "nad-applied.json", "daemon.log", "kubelet.log", "node-before.json", "node-after.json", "plugin/broken-plugin",
				"pods/repro/events.txt", "pods/repro/pod.yaml", "pods/repro/network-status.json"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("evidence: %v", err)
				}
			}
			if daemon, _ := os.ReadFile(filepath.Join(dir, "daemon.log")); !strings.Contains(string(daemon), sum.Namespace) {
				t.Errorf("daemon.log has no line for namespace %s", sum.Namespace)
			}

			labCmd("repro-replay", "DIR="+dir)
			reps, _ := filepath.Glob(filepath.Join(dir, "replay-*", "replay.json"))
			if len(reps) != 1 {
				t.Fatalf("replay reports %v, want one", reps)
			}
			var rep replayReport
			readJSON(t, reps[0], &rep)
			if len(rep.Calls) != sum.Calls || !rep.AllSame {
				t.Errorf("replay %+v: want all %d calls to end as recorded", rep, sum.Calls)
			}
			if ff.Index < 1 || ff.Index > len(rep.Calls) {
				t.Fatalf("first failing call #%d is not among the %d replayed", ff.Index, len(rep.Calls))
			}
			if c := rep.Calls[ff.Index-1]; c.Command != "ADD" || c.ReplayExit != *ff.ExitCode || c.ReplayCNI != ff.CNICode {
				t.Errorf("replayed first failing call %+v, want ADD exit %d CNI %d", c, *ff.ExitCode, ff.CNICode)
			}
			// The first failed DEL: recorded with exit 1 and CNI error 7, replayed the same
			// (the replay starts cni-fault's counters afresh), and a later DEL of the same
			// container that succeeded (the daemon's retry).
			failedDel, retried := -1, false
			for i, c := range rep.Calls {
				switch {
				case failedDel < 0 && c.Command == "DEL" && c.RecordedExit != nil && *c.RecordedExit != 0:
					failedDel = i
				case failedDel >= 0 && c.Command == "DEL" && c.ContainerID == rep.Calls[failedDel].ContainerID && c.RecordedExit != nil && *c.RecordedExit == 0:
					retried = true
				}
			}
			if failedDel < 0 {
				t.Fatalf("no failed DEL among the replayed calls %+v", rep.Calls)
			}
			if c := rep.Calls[failedDel]; *c.RecordedExit != 1 || c.RecordedCNI != 7 || c.ReplayExit != *c.RecordedExit || c.ReplayCNI != c.RecordedCNI {
				t.Errorf("failed DEL %+v: want recorded and replayed exit 1 CNI 7", c)
			}
			if !retried {
				t.Errorf("no successful DEL of container %s after its failed one: the retry was not recorded", rep.Calls[failedDel].ContainerID)
			}
			if len(rep.Leftovers) != 0 {
				t.Errorf("the replay left %v", rep.Leftovers)
			}

			// Nothing of the repro stays on the lab.
			if _, err := lab.Kube.CoreV1().Namespaces().Get(ctx, sum.Namespace, metav1.GetOptions{}); err == nil {
				t.Errorf("namespace %s still exists", sum.Namespace)
			}
			for _, n := range workers {
				left, err := lab.Nodes.Sh(ctx, n, "ls -d /opt/cni/bin/broken-plugin /opt/cni/bin/mt-repro-* /var/lib/mt-repro/calls/"+sum.Namespace+" /var/lib/mt-repro/replay-* /var/log/broken-plugin.log.state 2>/dev/null; true")
				if err != nil {
					t.Fatal(err)
				}
				if strings.TrimSpace(left) != "" {
					t.Errorf("node %s keeps %s", n, left)
				}
			}
			return ctx
		}).
		Feature()
	testenv.Test(t, f)
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
