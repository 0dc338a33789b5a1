//go:build netns

package daemon

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multus-thick/multus-thick/src/internal/testutil"
)

// TestDaemonProcessSelfReferencingNetwork: a network whose plugin is
// Multus again fails at once instead of deadlocking on the container lock
// until delegateTimeout, and a well-behaved pod's ADD that arrives at the
// same time on the same daemon, with a single delegate slot, is not held
// up by it. Three disguises: the shim's own name (refused at resolve
// time), a symlink to the shim (the same file, refused at resolve time)
// and a copy under another name (its call back into the daemon is refused
// by the socket check).
func TestDaemonProcessSelfReferencingNetwork(t *testing.T) {
	const delegateTimeout = 30 * time.Second
	tests := []struct {
		name, pluginType, want string
	}{
		{name: "shim by name", pluginType: "multus-shim", want: "is a Multus meta-plugin"},
		{name: "symlink to the shim", pluginType: "alias", want: "same file as the multus shim"},
		{name: "copy of the shim", pluginType: "shim-copy", want: "inside a delegate call of the same container"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newProcEnv(t)
			binDir := filepath.Join(e.root, "bin")
			if err := os.MkdirAll(binDir, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"bridge", "host-local", "loopback"} {
				if err := os.Symlink(filepath.Join(e.plugins, p), filepath.Join(binDir, p)); err != nil {
					t.Fatal(err)
				}
			}
			shim := filepath.Join(e.bin, "multus-shim")
			must(t, os.Symlink(shim, filepath.Join(binDir, "multus-shim")))
			must(t, os.Symlink(shim, filepath.Join(binDir, "alias")))
			data, err := os.ReadFile(shim)
			must(t, err)
			must(t, os.WriteFile(filepath.Join(binDir, "shim-copy"), data, 0o755))
			// The self-referencing network, found by name in confDir.
			loop := fmt.Sprintf(`{"cniVersion":"1.1.0","name":"loop","type":%q,"daemonSocketDir":%q,"shimReadinessTimeout":"5s"}`, tc.pluginType, e.sockDir)
			must(t, os.WriteFile(filepath.Join(e.netDir, "30-loop.conf"), []byte(loop), 0o644))
			// One delegate slot: a self-call holding it would starve the
			// other pod. No defaultNetworks here: each request's own config
			// says which secondary it gets.
			var cfg map[string]any
			raw, err := os.ReadFile(e.config)
			must(t, err)
			must(t, json.Unmarshal(raw, &cfg))
			delete(cfg, "defaultNetworks")
			cfg["binDir"], cfg["maxConcurrentDelegates"], cfg["delegateTimeout"] = binDir, 1, delegateTimeout.String()
			raw, _ = json.Marshal(cfg)
			must(t, os.WriteFile(e.config, raw, 0o644))
			e.start()
			conf := e.conf()
			var hostileConf map[string]any
			must(t, json.Unmarshal(conf, &hostileConf))
			hostileConf["defaultNetworks"] = []string{"loop"}
			hostile, _ := json.Marshal(hostileConf)

			type outcome struct {
				err error
				d   time.Duration
			}
			var bad, good outcome
			hostilePod, goodPod := testutil.NewNetns(t), testutil.NewNetns(t)
			badDone := make(chan struct{})
			go func() {
				defer close(badDone)
				start := time.Now()
				_, bad.err = e.shim("ADD", fmt.Sprintf("5e1fca11%02d", i), hostilePod, "hostile", hostile)
				bad.d = time.Since(start)
			}()
			// The other pod comes once the hostile ADD runs the loop
			// network (its plugin process exists and holds the only delegate
			// slot) or has already failed.
			deadline := time.Now().Add(20 * time.Second)
		wait:
			for time.Now().Before(deadline) {
				select {
				case <-badDone:
					break wait
				case <-time.After(5 * time.Millisecond):
				}
				if running("shim-copy") {
					break
				}
			}
			start := time.Now()
			_, good.err = e.shim("ADD", fmt.Sprintf("900dca11%02d", i), goodPod, "good", conf)
			good.d = time.Since(start)
			<-badDone
			t.Logf("self-referencing ADD failed after %s; the other pod's ADD took %s", bad.d, good.d)
			if bad.err == nil || !strings.Contains(bad.err.Error(), tc.want) {
				t.Fatalf("self-referencing ADD: %v, want an error containing %q", bad.err, tc.want)
			}
			if strings.Contains(bad.err.Error(), "deadline") {
				t.Errorf("the self-call waited for a deadline: %v", bad.err)
			}
			if good.err != nil {
				t.Fatalf("the other pod's ADD: %v", good.err)
			}
			// Not a timing benchmark: a self-call holding the only slot
			// would hold it for the whole delegate timeout.
			if good.d >= delegateTimeout || bad.d >= delegateTimeout {
				t.Errorf("an ADD waited for the delegate timeout (%s): self-call %s, other pod %s", delegateTimeout, bad.d, good.d)
			}
			if a := addrs(t, goodPod, "eth0"); !inSubnet(t, a, "10.99.0.0/24") {
				t.Errorf("the other pod's eth0: %v", a)
			}
			// The failed ADD rolled back: no lease of the cluster network
			// left for the hostile pod.
			if r := e.reserved("mtnet"); len(r) != 1 {
				t.Errorf("cluster network reservations = %v, want only the other pod's", r)
			}
			if a := addrs(t, hostilePod, "eth0"); a != nil {
				t.Errorf("hostile pod kept eth0 %v", a)
			}
		})
	}
}

// running reports whether a process named comm exists.
func running(comm string) bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err == nil && strings.TrimSpace(string(data)) == comm {
			return true
		}
	}
	return false
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
