package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	current "github.com/containernetworking/cni/pkg/types/100"
)

func TestPassthroughThroughInvoke(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "passthru")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	env := &invoke.Args{Command: "ADD", ContainerID: "c1", NetNS: "/var/run/netns/t", IfName: "net3", Path: dir}
	cases := []struct {
		name    string
		conf    string
		wantIPs int
	}{
		{"empty result at the head of a chain", `{"cniVersion":"1.0.0","name":"aux","type":"passthru"}`, 0},
		{"prevResult passed through", `{"cniVersion":"1.0.0","name":"aux","type":"passthru","prevResult":{"cniVersion":"1.0.0","ips":[{"address":"10.1.2.3/24"}]}}`, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := invoke.ExecPluginWithResult(ctx, bin, []byte(tc.conf), env, nil)
			if err != nil {
				t.Fatal(err)
			}
			r, err := current.NewResultFromResult(res)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.IPs) != tc.wantIPs {
				t.Fatalf("got %d IPs, want %d", len(r.IPs), tc.wantIPs)
			}
		})
	}
	del := &invoke.Args{Command: "DEL", ContainerID: "c1", NetNS: "/var/run/netns/t", IfName: "net3", Path: dir}
	if err := invoke.ExecPluginWithoutResult(ctx, bin, []byte(cases[0].conf), del, nil); err != nil {
		t.Fatalf("DEL: %v", err)
	}
}
