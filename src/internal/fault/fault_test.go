package fault_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/skel"
	cnitypes "github.com/containernetworking/cni/pkg/types"

	"github.com/multus-thick/multus-thick/src/internal/fault"
	"github.com/multus-thick/multus-thick/src/internal/testutil"
)

type harness struct {
	plugin *fault.Plugin
	stdout bytes.Buffer
	stderr bytes.Buffer
	slept  []time.Duration
	exited int
}

func newHarness() *harness {
	h := &harness{exited: -1}
	h.plugin = &fault.Plugin{
		Stdout: &h.stdout, Stderr: &h.stderr,
		Sleep: func(d time.Duration) {
			h.slept = append(h.slept, d)
			if d == time.Hour && len(h.slept) > 3 {
				panic("hang") // stop the endless hang loop after a few rounds
			}
		},
		Exit: func(code int) { h.exited = code },
		Now:  func() time.Time { return time.Unix(0, 0).UTC() },
	}
	return h
}

func args(conf string) *skel.CmdArgs {
	return &skel.CmdArgs{ContainerID: "c1", Netns: "/var/run/netns/t", IfName: "net1", Args: "K8S_POD_NAME=p", StdinData: []byte(conf)}
}

func TestScriptedBehaviour(t *testing.T) {
	for _, v := range testutil.SpecVersions {
		t.Run(v, func(t *testing.T) {
			t.Run("default ADD returns one interface", func(t *testing.T) {
				h := newHarness()
				conf := `{"cniVersion":"` + v + `","name":"f","type":"cni-fault"}`
				if err := h.plugin.Funcs().Add(args(conf)); err != nil {
					t.Fatal(err)
				}
				var res map[string]any
				if err := json.Unmarshal(h.stdout.Bytes(), &res); err != nil {
					t.Fatalf("stdout %s: %v", h.stdout.String(), err)
				}
				if res["cniVersion"] != v || !strings.Contains(h.stdout.String(), `"net1"`) {
					t.Errorf("result %s", h.stdout.String())
				}
			})
			t.Run("scripted result", func(t *testing.T) {
				h := newHarness()
				conf := `{"cniVersion":"` + v + `","name":"f","type":"cni-fault","result":{"cniVersion":"1.0.0","interfaces":[{"name":"net1","sandbox":"/x"}],"ips":[{"interface":0,"address":"10.9.0.5/24"}]}}`
				if err := h.plugin.Funcs().Add(args(conf)); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(h.stdout.String(), "10.9.0.5/24") {
					t.Errorf("result lost the IP: %s", h.stdout.String())
				}
			})
			t.Run("ADD fails with the scripted code after the delay", func(t *testing.T) {
				h := newHarness()
				conf := `{"cniVersion":"` + v + `","name":"f","type":"cni-fault","fault":{"add":{"code":11,"msg":"try later","details":"d","delayMs":250}}}`
				err := h.plugin.Funcs().Add(args(conf))
				var e *cnitypes.Error
				if !errors.As(err, &e) || e.Code != 11 || e.Msg != "try later" || e.Details != "d" {
					t.Fatalf("got %v", err)
				}
				if len(h.slept) != 1 || h.slept[0] != 250*time.Millisecond {
					t.Errorf("slept %v, want [250ms]", h.slept)
				}
				// The fault is per command: DEL still succeeds.
				if err := h.plugin.Funcs().Del(args(conf)); err != nil {
					t.Errorf("DEL: %v", err)
				}
			})
			t.Run("crash exits 2 with stderr", func(t *testing.T) {
				h := newHarness()
				conf := `{"cniVersion":"` + v + `","name":"f","type":"cni-fault","fault":{"del":{"crash":true}}}`
				_ = h.plugin.Funcs().Del(args(conf))
				if h.exited != 2 || !strings.Contains(h.stderr.String(), "crashing on DEL") {
					t.Errorf("exit %d stderr %q", h.exited, h.stderr.String())
				}
			})
			t.Run("hang never returns", func(t *testing.T) {
				h := newHarness()
				conf := `{"cniVersion":"` + v + `","name":"f","type":"cni-fault","fault":{"add":{"hang":true}}}`
				defer func() {
					if r := recover(); r != "hang" {
						t.Fatalf("ADD returned instead of hanging (recover %v)", r)
					}
				}()
				_ = h.plugin.Funcs().Add(args(conf))
			})
		})
	}
}

func TestRecordFile(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "calls.log")
	h := newHarness()
	conf := `{"cniVersion":"1.0.0","name":"f","type":"cni-fault","recordFile":"` + rec + `","fault":{"check":{"code":7}}}`
	_ = h.plugin.Funcs().Add(args(conf))
	_ = h.plugin.Funcs().Check(args(conf))
	_ = h.plugin.Funcs().Del(args(conf))
	f, err := os.Open(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cmds []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r fault.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if r.IfName != "net1" || r.ContainerID != "c1" || !strings.Contains(string(r.Config), `"cni-fault"`) {
			t.Errorf("record %+v", r)
		}
		cmds = append(cmds, r.Command)
	}
	if strings.Join(cmds, ",") != "ADD,CHECK,DEL" {
		t.Errorf("recorded %v, want ADD,CHECK,DEL", cmds)
	}
}

// The real binary, executed the way libcni executes delegates.
func TestBinaryThroughInvoke(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "cni-fault")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/cni-fault").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	env := &invoke.Args{Command: "ADD", ContainerID: "c1", NetNS: "/var/run/netns/t", IfName: "net1", Path: dir}
	conf := []byte(`{"cniVersion":"1.0.0","name":"f","type":"cni-fault","fault":{"add":{"code":42,"msg":"scripted"}}}`)
	_, err := invoke.ExecPluginWithResult(ctx, bin, conf, env, nil)
	var e *cnitypes.Error
	if !errors.As(err, &e) || e.Code != 42 || e.Msg != "scripted" {
		t.Fatalf("ADD through invoke = %v, want code 42", err)
	}
	hang := []byte(`{"cniVersion":"1.0.0","name":"f","type":"cni-fault","fault":{"add":{"hang":true}}}`)
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if _, err := invoke.ExecPluginWithResult(short, bin, hang, env, nil); err == nil {
		t.Fatal("a hanging ADD returned success")
	}
	ok := []byte(`{"cniVersion":"0.4.0","name":"f","type":"cni-fault"}`)
	res, err := invoke.ExecPluginWithResult(ctx, bin, ok, env, nil)
	if err != nil || res.Version() != "0.4.0" {
		t.Fatalf("ADD = %v, %v", res, err)
	}
}

func TestTimesFailsOnlyTheFirstCalls(t *testing.T) {
	dir := t.TempDir()
	record := filepath.Join(dir, "calls.log")
	conf := `{"cniVersion":"1.0.0","name":"f","type":"cni-fault","recordFile":"` + record + `","fault":{"del":{"code":11,"times":2}}}`
	h := newHarness()
	call := func(id string) error {
		a := args(conf)
		a.ContainerID = id
		return h.plugin.Funcs().Del(a)
	}
	var got []string
	for _, id := range []string{"c1", "c1", "c2", "c1", "c1", "c2", "c2"} {
		err := call(id)
		var cerr *cnitypes.Error
		switch {
		case err == nil:
			got = append(got, id+":ok")
		case errors.As(err, &cerr) && cerr.Code == 11:
			got = append(got, id+":fail")
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	want := "c1:fail c1:fail c2:fail c1:ok c1:ok c2:fail c2:ok"
	if strings.Join(got, " ") != want {
		t.Errorf("outcomes = %q, want %q", strings.Join(got, " "), want)
	}
	// ADD has no fault: it is not counted and never fails.
	if err := h.plugin.Funcs().Add(args(conf)); err != nil {
		t.Errorf("ADD: %v", err)
	}
	state, err := os.ReadFile(fault.StatePath(record))
	if err != nil || string(state) != `{"DEL/c1":4,"DEL/c2":3}` {
		t.Errorf("state = %s, %v", state, err)
	}
}

func TestTimesNeedsRecordFile(t *testing.T) {
	h := newHarness()
	err := h.plugin.Funcs().Del(args(`{"cniVersion":"1.0.0","name":"f","type":"cni-fault","fault":{"del":{"code":11,"times":1}}}`))
	var cerr *cnitypes.Error
	if !errors.As(err, &cerr) || cerr.Code != cnitypes.ErrIOFailure || !strings.Contains(cerr.Msg, "recordFile") {
		t.Errorf("err = %v", err)
	}
}
