package oldshim_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multus-thick/multus-thick/fixtures"
	"github.com/multus-thick/multus-thick/src/cmd/mt-oldshim/oldshim"
	"github.com/multus-thick/multus-thick/src/internal/testutil/fakedaemon"
)

func TestDelProbesOnceAndGivesUp(t *testing.T) {
	tests := []struct {
		name        string
		daemon      bool
		reply       fakedaemon.Reply
		wantOutcome string
		wantCalls   int
	}{
		{"daemon answers", true, fakedaemon.Reply{Status: 200}, oldshim.Sent, 1},
		{"daemon fails the DEL", true, fakedaemon.Reply{Status: 400, Body: []byte(`{"code":11,"msg":"busy"}`)}, oldshim.Failed, 1},
		{"no daemon: dropped at once", false, fakedaemon.Reply{}, oldshim.Dropped, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := fakedaemon.Start(t)
			d.SetReply(tc.reply)
			dir := d.Dir
			if !tc.daemon {
				dir = t.TempDir()
			}
			logPath := filepath.Join(t.TempDir(), "oldshim.log")
			env := map[string]string{"CNI_COMMAND": "DEL", "CNI_CONTAINERID": "c1", "CNI_IFNAME": "eth0",
				"CNI_ARGS": "K8S_POD_NAMESPACE=default;K8S_POD_NAME=p", "MT_OLDSHIM_LOG": logPath}
			var stdout, stderr bytes.Buffer
			code := oldshim.Main(context.Background(), oldshim.IO{Env: env, Stdout: &stdout, Stderr: &stderr,
				Stdin: strings.NewReader(fmt.Sprintf(`{"cniVersion":"1.0.0","name":"m","type":"multus-shim","daemonSocketDir":%q}`, dir))})
			if code != 0 || stdout.Len() != 0 {
				t.Fatalf("exit %d stdout %q, want 0 and nothing (upstream's DEL)", code, stdout.String())
			}
			log, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatal(err)
			}
			if f := strings.Fields(string(log)); len(f) < 3 || f[1] != "c1" || f[2] != tc.wantOutcome {
				t.Errorf("log %q, want container c1 and %q", log, tc.wantOutcome)
			}
			if n := len(d.Requests()); tc.daemon && n != tc.wantCalls {
				t.Errorf("daemon got %d DEL requests, want %d", n, tc.wantCalls)
			}
			if tc.daemon {
				if p := d.Paths(); len(p) != 2 || p[0] != "/healthz" {
					t.Errorf("paths %v, want one /healthz probe, then /cni", p)
				}
			}
		})
	}
}

func TestOtherCommandsAreOurShim(t *testing.T) {
	d := fakedaemon.Start(t)
	d.SetReply(fakedaemon.Reply{Status: 200, Body: fixtures.MustRead("wire/add-response-upstream.json")})
	env := map[string]string{"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0",
		"CNI_ARGS": "K8S_POD_NAMESPACE=default;K8S_POD_NAME=p"}
	var stdout, stderr bytes.Buffer
	code := oldshim.Main(context.Background(), oldshim.IO{Env: env, Stdout: &stdout, Stderr: &stderr,
		Stdin: strings.NewReader(fmt.Sprintf(`{"cniVersion":"1.0.0","name":"m","type":"multus-shim","daemonSocketDir":%q}`, d.Dir))})
	if code != 0 || !strings.Contains(stdout.String(), "10.244.1.5/24") {
		t.Fatalf("ADD exit %d stdout %s stderr %s", code, stdout.String(), stderr.String())
	}
	if p := d.Paths(); p[0] != "/readyz" {
		t.Errorf("paths %v: ADD waits on /readyz like our shim", p)
	}
}
