package shim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	cnitypes "github.com/containernetworking/cni/pkg/types"

	"github.com/multus-thick/multus-thick/fixtures"
	"github.com/multus-thick/multus-thick/src/internal/shim"
	"github.com/multus-thick/multus-thick/src/internal/testutil"
	"github.com/multus-thick/multus-thick/src/internal/testutil/fakedaemon"
)

type outcome struct {
	code   int
	stdout string
	stderr string
}

func invoke(t *testing.T, env map[string]string, stdin string, args ...string) outcome {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := shim.Main(context.Background(), shim.IO{
		Args: args, Env: env, Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr,
	})
	return outcome{code, stdout.String(), stderr.String()}
}

func addEnv(cmd string) map[string]string {
	return map[string]string{
		"CNI_COMMAND": cmd, "CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0",
		"CNI_ARGS": "K8S_POD_NAMESPACE=default;K8S_POD_NAME=p", "CNI_PATH": "/opt/cni/bin",
		"HOME": "/root", "SECRET_TOKEN": "must-not-leave-the-process",
	}
}

func conf(version, socketDir string, extra string) string {
	return fmt.Sprintf(`{"cniVersion":%q,"name":"multus-cni-network","type":"multus-shim","daemonSocketDir":%q,"shimReadinessTimeout":"400ms"%s}`,
		version, socketDir, extra)
}

func TestAddPrintsResultInConfigVersion(t *testing.T) {
	for _, v := range testutil.SpecVersions {
		t.Run(v, func(t *testing.T) {
			d := fakedaemon.Start(t)
			d.SetReply(fakedaemon.Reply{Status: 200, Body: fixtures.MustRead("wire/add-response-upstream.json")})
			out := invoke(t, addEnv("ADD"), conf(v, d.Dir, ""))
			if out.code != 0 {
				t.Fatalf("exit %d, stdout %s", out.code, out.stdout)
			}
			var printed map[string]any
			if err := json.Unmarshal([]byte(out.stdout), &printed); err != nil {
				t.Fatalf("stdout is not JSON: %v: %s", err, out.stdout)
			}
			if printed["cniVersion"] != v {
				t.Errorf("printed cniVersion %v, want %s", printed["cniVersion"], v)
			}
			if !strings.Contains(out.stdout, "10.244.1.5/24") {
				t.Errorf("result lost the IP: %s", out.stdout)
			}
			reqs := d.Requests()
			if len(reqs) != 1 {
				t.Fatalf("daemon got %d requests, want 1", len(reqs))
			}
			if _, leaked := reqs[0].Env["SECRET_TOKEN"]; leaked {
				t.Errorf("shim forwarded a non-CNI variable: %v", reqs[0].Env)
			}
			if reqs[0].Env["CNI_ARGS"] != "K8S_POD_NAMESPACE=default;K8S_POD_NAME=p" || reqs[0].Env["CNI_IFNAME"] != "eth0" {
				t.Errorf("CNI variables not forwarded: %v", reqs[0].Env)
			}
			if string(reqs[0].Config) != conf(v, d.Dir, "") {
				t.Errorf("config not forwarded byte for byte: %s", reqs[0].Config)
			}
			if p := d.Paths(); p[0] != "/readyz" || p[len(p)-1] != "/cni" {
				t.Errorf("paths %v: ADD must wait on /readyz, then call /cni", p)
			}
		})
	}
}

func TestErrorsReachTheRuntimeWithTheirCode(t *testing.T) {
	cases := []struct {
		name     string
		cmd      string
		reply    fakedaemon.Reply
		extra    string
		ready    bool
		wantExit int
		wantCode uint
		wantMsg  string
	}{
		{"ADD delegate code kept", "ADD", fakedaemon.Reply{Status: 400, Body: fixtures.MustRead("wire/error-cni-upstream.json")}, "", true, 1, 11, "plugin busy"},
		{"CHECK delegate code kept", "CHECK", fakedaemon.Reply{Status: 400, Body: []byte(`{"code":7,"msg":"bad conf"}`)}, "", true, 1, 7, "bad conf"},
		{"STATUS code kept", "STATUS", fakedaemon.Reply{Status: 400, Body: []byte(`{"code":50,"msg":"plugin not available"}`)}, "", true, 1, 50, "not available"},
		{"upstream text error", "ADD", fakedaemon.Reply{Status: 400, Body: fixtures.MustRead("wire/error-text-upstream.txt")}, "", true, 1, cnitypes.ErrInternal, "ERRORED"},
		{"never ready", "ADD", fakedaemon.Reply{Status: 200}, "", false, 1, cnitypes.ErrTryAgainLater, "not ready after 400ms"},
		{"DEL error swallowed by default", "DEL", fakedaemon.Reply{Status: 400, Body: []byte(`{"code":11,"msg":"busy"}`)}, "", true, 0, 0, ""},
		{"DEL error reported on request", "DEL", fakedaemon.Reply{Status: 400, Body: []byte(`{"code":11,"msg":"busy"}`)}, `,"reportDelErrors":true`, true, 1, 11, "busy"},
		{"DEL does not wait for readyz", "DEL", fakedaemon.Reply{Status: 200}, "", false, 0, 0, ""},
		{"DEL reported when the daemon never comes", "DEL", fakedaemon.Reply{Status: 200}, `,"reportDelErrors":true,"daemonSocketDir":"/nonexistent"`, true, 1, cnitypes.ErrTryAgainLater, "not healthy after 400ms"},
	}
	for _, tc := range cases {
		versions := testutil.SpecVersions
		if tc.cmd == "STATUS" {
			versions = []string{"1.1.0"} // STATUS exists from CNI 1.1.0 on
		}
		for _, v := range versions {
			t.Run(tc.name+"/"+v, func(t *testing.T) {
				d := fakedaemon.Start(t)
				d.SetReply(tc.reply)
				d.SetReady(tc.ready)
				out := invoke(t, addEnv(tc.cmd), conf(v, d.Dir, tc.extra))
				if out.code != tc.wantExit {
					t.Fatalf("exit %d, want %d; stdout %s", out.code, tc.wantExit, out.stdout)
				}
				if tc.wantExit == 0 {
					if out.stdout != "" {
						t.Errorf("stdout %q, want nothing", out.stdout)
					}
					return
				}
				var e cnitypes.Error
				if err := json.Unmarshal([]byte(out.stdout), &e); err != nil {
					t.Fatalf("stdout is not a CNI error: %s", out.stdout)
				}
				if e.Code != tc.wantCode || !strings.Contains(e.Msg, tc.wantMsg) {
					t.Errorf("got code %d msg %q, want %d containing %q", e.Code, e.Msg, tc.wantCode, tc.wantMsg)
				}
			})
		}
	}
}

// A DEL that arrives while the daemon restarts waits for the next one
// instead of being dropped (which would leak the pod's IPs).
func TestDelWaitsForARestartingDaemon(t *testing.T) {
	d := fakedaemon.Start(t)
	sock := d.Dir + "/multus.sock"
	if err := os.Rename(sock, sock+".away"); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(150 * time.Millisecond)
		_ = os.Rename(sock+".away", sock)
	}()
	out := invoke(t, addEnv("DEL"), conf("1.0.0", d.Dir, `,"reportDelErrors":true`))
	if out.code != 0 {
		t.Fatalf("DEL during a restart: exit %d stdout %s", out.code, out.stdout)
	}
	if n := len(d.Requests()); n != 1 {
		t.Fatalf("daemon got %d DEL requests, want 1", n)
	}
}

func TestDelWithoutDaemonSucceeds(t *testing.T) {
	out := invoke(t, addEnv("DEL"), conf("1.0.0", t.TempDir(), ""))
	if out.code != 0 || out.stdout != "" {
		t.Fatalf("DEL with no daemon: exit %d stdout %q, want 0 and nothing", out.code, out.stdout)
	}
	out = invoke(t, addEnv("DEL"), conf("1.0.0", t.TempDir(), `,"reportDelErrors":true`))
	if out.code != 1 || !strings.Contains(out.stdout, `"code": 11`) {
		t.Fatalf("DEL with no daemon and reportDelErrors: exit %d stdout %s, want code 11", out.code, out.stdout)
	}
}

func TestBadInvocations(t *testing.T) {
	d := fakedaemon.Start(t)
	noNetns := addEnv("ADD")
	delete(noNetns, "CNI_NETNS")
	cases := []struct {
		name     string
		env      map[string]string
		stdin    string
		wantCode uint
		wantMsg  string
	}{
		{"no command", map[string]string{}, conf("1.0.0", d.Dir, ""), cnitypes.ErrInvalidEnvironmentVariables, "CNI_COMMAND"},
		{"unknown command", addEnv("FROB"), conf("1.0.0", d.Dir, ""), cnitypes.ErrInvalidEnvironmentVariables, `"FROB"`},
		{"missing netns on ADD", noNetns, conf("1.0.0", d.Dir, ""), cnitypes.ErrInvalidEnvironmentVariables, "CNI_NETNS"},
		{"config not JSON", addEnv("ADD"), `{"cniVersion":`, cnitypes.ErrDecodingFailure, "parse network config"},
		{"unsupported version", addEnv("ADD"), conf("2.0.0", d.Dir, ""), cnitypes.ErrIncompatibleCNIVersion, "incompatible"},
		{"bad timeout key", addEnv("ADD"), conf("1.0.0", d.Dir, `,"shimTimeout":"soon"`), cnitypes.ErrDecodingFailure, "shimTimeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := invoke(t, tc.env, tc.stdin)
			var e cnitypes.Error
			if out.code != 1 || json.Unmarshal([]byte(out.stdout), &e) != nil {
				t.Fatalf("exit %d stdout %q, want a CNI error", out.code, out.stdout)
			}
			if e.Code != tc.wantCode || !strings.Contains(e.Msg+e.Details, tc.wantMsg) {
				t.Errorf("got %d %q %q, want %d containing %q", e.Code, e.Msg, e.Details, tc.wantCode, tc.wantMsg)
			}
		})
	}
	if got := len(d.Requests()); got != 0 {
		t.Errorf("bad invocations reached the daemon %d times", got)
	}
}

func TestVersionAndFlags(t *testing.T) {
	out := invoke(t, map[string]string{"CNI_COMMAND": "VERSION"}, `{"cniVersion":"1.0.0"}`)
	if out.code != 0 || !strings.Contains(out.stdout, `"supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]`) {
		t.Fatalf("VERSION: exit %d stdout %s", out.code, out.stdout)
	}
	for _, flag := range []string{"-version", "-v"} {
		out = invoke(t, nil, "", flag)
		if out.code != 0 || !strings.HasPrefix(out.stdout, "multus-shim: version:") {
			t.Errorf("%s: exit %d stdout %q", flag, out.code, out.stdout)
		}
	}
	d := fakedaemon.Start(t)
	if out = invoke(t, nil, "", "-probe", "readyz", "-socket-dir", d.Dir); out.code != 0 {
		t.Errorf("probe readyz on a ready daemon: exit %d %s", out.code, out.stderr)
	}
	d.SetReady(false)
	if out = invoke(t, nil, "", "-probe", "readyz", "-socket-dir", d.Dir); out.code != 1 {
		t.Errorf("probe readyz on a draining daemon: exit %d, want 1", out.code)
	}
	if out = invoke(t, nil, "", "-probe", "healthz", "-socket-dir", d.Dir); out.code != 0 {
		t.Errorf("probe healthz on a draining daemon: exit %d, want 0", out.code)
	}
	if out = invoke(t, nil, "", "-probe", "nope", "-socket-dir", d.Dir); out.code != 1 || !strings.Contains(out.stderr, "unknown endpoint") {
		t.Errorf("probe of an unknown endpoint: exit %d %q", out.code, out.stderr)
	}
}
