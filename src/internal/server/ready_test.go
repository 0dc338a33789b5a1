package server

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cnitypes "github.com/containernetworking/cni/pkg/types"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/readiness"
)

func withIndicator(path string, timeout time.Duration) func(*Options) {
	return func(o *Options) {
		o.Readiness = readiness.Indicator{Path: path, Interval: 10 * time.Millisecond, Timeout: timeout}
	}
}

// Which commands wait for the primary network, and what a bounded wait
// that runs out answers.
func TestReadinessGate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	present := filepath.Join(dir, "subnet.env")
	if err := os.WriteFile(present, []byte("FLANNEL_MTU=1450\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "absent.env")
	noParent := filepath.Join(dir, "flannel", "subnet.env")
	tests := []struct {
		name, file, endpoint, command string
		wantMsg                       []string // nil: 200 and the backend called
	}{
		{"present ADD", present, api.PathCNI, "ADD", nil},
		{"present GC", present, api.PathCNI, "GC", nil},
		{"present STATUS", present, api.PathCNI, "STATUS", nil},
		{"missing ADD", missing, api.PathCNI, "ADD", []string{"ADD pod default/p1", missing, "does not exist", "default network is ready"}},
		{"missing GC", missing, api.PathCNI, "GC", []string{"GC", missing}},
		{"missing STATUS", missing, api.PathCNI, "STATUS", []string{"STATUS", missing}},
		{"missing DEL never waits", missing, api.PathCNI, "DEL", nil},
		{"missing CHECK", missing, api.PathCNI, "CHECK", nil},
		{"missing delegate ADD", missing, api.PathDelegate, "ADD", []string{missing}},
		{"missing delegate STATUS", missing, api.PathDelegate, "STATUS", []string{missing}},
		{"missing delegate DEL", missing, api.PathDelegate, "DEL", nil},
		{"directory ADD", dir, api.PathCNI, "ADD", []string{dir, "is a directory"}},
		{"directory DEL", dir, api.PathCNI, "DEL", nil},
		{"parent dir missing ADD", noParent, api.PathCNI, "ADD", []string{noParent, "nor does its directory"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, withIndicator(tc.file, 100*time.Millisecond))
			env := addEnv()
			env["CNI_COMMAND"] = tc.command
			code, _, body := ts.do(t, http.MethodPost, tc.endpoint, cniRequest(t, env, multusConf))
			if tc.wantMsg == nil {
				if code != 200 || ts.cni.numCalls() != 1 {
					t.Fatalf("code %d body %s, backend calls %d; want 200 after one call", code, body, ts.cni.numCalls())
				}
				return
			}
			if code != 400 {
				t.Fatalf("code %d body %s, want 400", code, body)
			}
			e := decodeCNIError(t, body)
			if e.Code != cnitypes.ErrTryAgainLater {
				t.Errorf("code %d, want %d (try again later)", e.Code, cnitypes.ErrTryAgainLater)
			}
			for _, s := range tc.wantMsg {
				if !strings.Contains(e.Msg, s) {
					t.Errorf("msg %q does not contain %q", e.Msg, s)
				}
			}
			if n := ts.cni.numCalls(); n != 0 {
				t.Errorf("backend called %d times before the primary network was ready", n)
			}
		})
	}
}

// /readyz follows the file: absent, present, removed (flannel restarting),
// and a draining daemon is never ready.
func TestReadyzFollowsIndicator(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "subnet.env")
	ts := startServer(t, withIndicator(file, time.Second))
	readyz := func() int {
		code, _, _ := ts.do(t, http.MethodPost, api.PathReadyz, []byte("null"))
		return code
	}
	steps := []struct {
		name string
		do   func()
		want int
	}{
		{"absent", func() {}, 500},
		{"written", func() { writeTestFile(t, file) }, 200},
		{"removed", func() { removeTestFile(t, file) }, 500},
		{"back", func() { writeTestFile(t, file) }, 200},
		{"draining", ts.srv.SetShuttingDown, 500},
	}
	for _, st := range steps {
		st.do()
		if got := readyz(); got != st.want {
			t.Errorf("%s: /readyz = %d, want %d", st.name, got, st.want)
		}
		if code, _, _ := ts.do(t, http.MethodPost, api.PathHealthz, []byte("null")); code != 200 {
			t.Errorf("%s: /healthz = %d, want 200 always", st.name, code)
		}
	}
}

// After the file goes away, a new ADD waits again and proceeds once it is
// back; meanwhile a DEL is not held up, even with the only slot.
func TestAddWaitsAgainAfterRemovalDelDoesNot(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "subnet.env")
	writeTestFile(t, file)
	ts := startServer(t, func(o *Options) {
		withIndicator(file, 20*time.Second)(o)
		o.ConnectionLimit = 1
	})
	removeTestFile(t, file)
	added := make(chan int, 1)
	go func() {
		code, _, _ := ts.do(t, http.MethodPost, api.PathCNI, cniRequest(t, addEnv(), multusConf))
		added <- code
	}()
	waitLog(t, ts, "waiting for the primary network")
	env := addEnv()
	env["CNI_COMMAND"] = "DEL"
	if code, _, body := ts.do(t, http.MethodPost, api.PathCNI, cniRequest(t, env, multusConf)); code != 200 {
		t.Fatalf("DEL while an ADD waits for the primary network = %d %s", code, body)
	}
	if m := ts.cni.lastCall(t).method; m != "Del" || ts.cni.numCalls() != 1 {
		t.Fatalf("backend saw %d calls, last %s; want only the DEL", ts.cni.numCalls(), m)
	}
	select {
	case code := <-added:
		t.Fatalf("ADD answered %d while the file was absent", code)
	default:
	}
	writeTestFile(t, file)
	if code := <-added; code != 200 {
		t.Fatalf("ADD after the file came back = %d", code)
	}
	if m := ts.cni.lastCall(t).method; m != "Add" {
		t.Errorf("last backend call %s, want Add", m)
	}
}

// Without the daemon-config key, a readinessindicatorfile in the request's
// own config (a user-provided multusConfigFile) gates the command.
func TestRequestConfigIndicator(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "ready")
	ts := startServer(t, func(o *Options) {
		o.Readiness = readiness.Indicator{Interval: 10 * time.Millisecond, Timeout: 100 * time.Millisecond}
	})
	conf := `{"cniVersion":"0.3.1","name":"m","type":"multus-shim","readinessindicatorfile":"` + file + `"}`
	code, _, body := ts.do(t, http.MethodPost, api.PathCNI, cniRequest(t, addEnv(), conf))
	if code != 400 || !strings.Contains(decodeCNIError(t, body).Msg, file) {
		t.Fatalf("ADD = %d %s, want 400 naming %s", code, body, file)
	}
	if code, _, _ := ts.do(t, http.MethodPost, api.PathReadyz, nil); code != 200 {
		t.Errorf("/readyz = %d; only the daemon-config key gates it", code)
	}
	writeTestFile(t, file)
	if code, _, body := ts.do(t, http.MethodPost, api.PathCNI, cniRequest(t, addEnv(), conf)); code != 200 {
		t.Fatalf("ADD with the file present = %d %s", code, body)
	}
}

func waitLog(t *testing.T, ts *testServer, line string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(ts.logs.String(), line) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", line, ts.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func writeTestFile(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func removeTestFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}
