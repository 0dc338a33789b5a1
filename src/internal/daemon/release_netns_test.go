//go:build netns

package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/client"
	"github.com/multus-thick/multus-thick/src/internal/testutil"
	"github.com/multus-thick/multus-thick/src/leakcheck"
)

// The fault table of "nothing lost": the real daemon and shim, the
// reference plugins and cni-fault. Each case runs ADD and DEL through a
// fault, then waits for the node to converge and ends with the leak
// checker at zero: no link in the pod netns or on the node, no host-local
// lease, no libcni result cache, no scratch file (or .tmp/.corrupt), no
// iptables rule naming the pod's IPs. The time to converge is logged.

// convergeBound bounds every wait for convergence; the retrier's first
// retries come after 1 s and 2 s, the reconciler runs every second here.
const convergeBound = 45 * time.Second

type faultEnv struct {
	*procEnv
	record string // cni-fault's recordFile
	cniDir string
	leaks  *leakcheck.Checker
}

// newFaultEnv is procEnv with cni-fault next to the plugins, the "second"
// network chained through cni-fault with the given fault (JSON object,
// "" for none), and daemon-config keys overridden by cfg.
func newFaultEnv(t *testing.T, fault string, cfg map[string]any) *faultEnv {
	t.Helper()
	e := &faultEnv{procEnv: newProcEnv(t)}
	e.record = filepath.Join(e.root, "cni-fault.log")
	e.cniDir = filepath.Join(e.root, "cache")
	binDir := filepath.Join(e.root, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	plugins, err := os.ReadDir(e.plugins)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plugins {
		if err := os.Symlink(filepath.Join(e.plugins, p.Name()), filepath.Join(binDir, p.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(e.bin, "cni-fault"), filepath.Join(binDir, "cni-fault")); err != nil {
		t.Fatal(err)
	}
	daemonCfg := map[string]any{}
	raw, err := os.ReadFile(e.config)
	if err != nil || json.Unmarshal(raw, &daemonCfg) != nil {
		t.Fatalf("read %s: %v", e.config, err)
	}
	daemonCfg["binDir"] = binDir
	daemonCfg["delegateTimeout"] = "3s"
	daemonCfg["reconcileInterval"] = "1s"
	daemonCfg["deleteRetryBackoff"] = "4s"
	for k, v := range cfg {
		daemonCfg[k] = v
	}
	e.writeJSON(e.config, daemonCfg)
	if fault != "" {
		second := fmt.Sprintf(`{"cniVersion":"1.1.0","name":"second","plugins":[`+
			`{"type":"bridge","bridge":"mtbr1","isGateway":true,"ipam":{"type":"host-local","dataDir":%q,"ranges":[[{"subnet":"10.98.0.0/24"}]]}},`+
			`{"type":"cni-fault","recordFile":%q,"fault":%s}]}`, e.ipamDir, e.record, fault)
		e.writeFile(filepath.Join(e.netDir, "20-second.conflist"), second)
	}
	e.leaks = &leakcheck.Checker{Node: leakcheck.Local(e.node.Path())}
	return e
}

func (e *faultEnv) writeFile(path, data string) {
	e.t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *faultEnv) writeJSON(path string, v any) {
	e.t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	e.writeFile(path, string(data))
}

// startAndBaseline starts the daemon, reads 00-multus.conf and records the
// node's links before any pod exists.
func (e *faultEnv) startAndBaseline() []byte {
	e.t.Helper()
	e.start()
	// /readyz may answer before auto mode has written 00-multus.conf.
	testutil.Eventually(e.t, "00-multus.conf", convergeBound, func() bool { _, err := os.Stat(e.confPath); return err == nil })
	conf, err := os.ReadFile(e.confPath)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.leaks.Baseline(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return conf
}

// add runs the shim's ADD and returns the pod's IPs (no prefix length).
func (e *faultEnv) add(id string, pod ns.NetNS, stdin []byte) ([]string, error) {
	out, err := e.shim("ADD", id, pod, "p-"+id, stdin)
	if err != nil {
		return nil, err
	}
	var res struct {
		IPs []struct {
			Address string `json:"address"`
		} `json:"ips"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("ADD result %s: %w", out, err)
	}
	var ips []string
	for _, ip := range res.IPs {
		addr, _, err := net.ParseCIDR(ip.Address)
		if err != nil {
			return nil, err
		}
		ips = append(ips, addr.String())
	}
	return ips, nil
}

// converge waits until the leak checker reports zero for the pod and
// returns how long that took from start.
func (e *faultEnv) converge(start time.Time, spec leakcheck.Spec) time.Duration {
	e.t.Helper()
	spec.IPAMDirs = []string{e.ipamDir}
	spec.CacheDirs = []string{e.cniDir}
	spec.ScratchDirs = []string{e.cniDir}
	ctx, cancel := context.WithTimeout(context.Background(), convergeBound)
	defer cancel()
	var leaks []leakcheck.Leak
	for {
		var err error
		leaks, err = e.leaks.Check(ctx, spec)
		if err != nil {
			e.t.Fatalf("leak check: %v", err)
		}
		if len(leaks) == 0 {
			return time.Since(start)
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("not converged within %s; leaks:\n%s", convergeBound, leakcheck.Describe(leaks))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// faultCalls counts cni-fault's recorded calls of command.
func (e *faultEnv) faultCalls(command string) int {
	data, _ := os.ReadFile(e.record)
	return strings.Count(string(data), `"command":"`+command+`"`)
}

// delegate calls /delegate directly, as a hot-plug controller does.
func (e *faultEnv) delegate(command, id string, pod ns.NetNS, ifname string, config []byte) error {
	c := client.New(api.SocketPath(e.sockDir))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.Delegate(ctx, &api.Request{
		Env: map[string]string{"CNI_COMMAND": command, "CNI_CONTAINERID": id, "CNI_NETNS": pod.Path(), "CNI_IFNAME": ifname,
			"CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p-" + id},
		Config: config, InterfaceAttributes: &api.InterfaceAttributes{},
	})
	return err
}

func TestNothingLost(t *testing.T) {
	cases := []struct {
		name  string
		fault string         // cni-fault's "fault" in the second network
		cfg   map[string]any // daemon-config overrides
		// run does the ADD/DEL of the case for container id in pod and
		// returns the pod's IPs and when convergence starts counting.
		run func(t *testing.T, e *faultEnv, id string, pod ns.NetNS, conf []byte) []string
	}{
		{
			name:  "delegate DEL fails once then succeeds",
			fault: `{"del":{"code":11,"msg":"injected DEL failure","times":1}}`,
			run: func(t *testing.T, e *faultEnv, id string, pod ns.NetNS, conf []byte) []string {
				ips := mustAdd(t, e, id, pod, conf)
				mustDel(t, e, id, pod, conf) // the shim reports success, as upstream
				if n := len(e.reserved("second")); n != 1 {
					t.Errorf("the failed DEL released the lease already (%d reserved): the fault did not bite", n)
				}
				return ips
			},
		},
		{
			name:  "DEL hangs past delegateTimeout",
			fault: `{"del":{"hang":true,"times":1}}`,
			cfg:   map[string]any{"delegateTimeout": "2s"},
			run: func(t *testing.T, e *faultEnv, id string, pod ns.NetNS, conf []byte) []string {
				ips := mustAdd(t, e, id, pod, conf)
				mustDel(t, e, id, pod, conf)
				return ips
			},
		},
		{
			name:  "daemon SIGKILLed mid-DEL then restarted",
			fault: `{"del":{"delayMs":3000,"times":1}}`,
			run: func(t *testing.T, e *faultEnv, id string, pod ns.NetNS, conf []byte) []string {
				ips := mustAdd(t, e, id, pod, conf)
				done := make(chan error, 1)
				go func() { _, err := e.shim("DEL", id, pod, "p-"+id, conf); done <- err }()
				testutil.Eventually(t, "cni-fault's DEL to start", convergeBound, func() bool { return e.faultCalls("DEL") == 1 })
				e.stop(syscall.SIGKILL)
				<-done // whatever the shim says, the runtime has moved on
				e.start()
				return ips
			},
		},
		{
			name: "daemon down during the DEL (the shim gives up), then up",
			cfg:  map[string]any{"shimReadinessTimeout": "2s"},
			run: func(t *testing.T, e *faultEnv, id string, pod ns.NetNS, conf []byte) []string {
				ips := mustAdd(t, e, id, pod, conf)
				if code := e.stop(syscall.SIGTERM); code != 0 {
					t.Fatalf("exit code %d", code)
				}
				if _, err := e.shim("DEL", id, pod, "p-"+id, conf); err != nil {
					t.Logf("shim DEL with no daemon: %v", err)
				}
				// The runtime removes the sandbox's netns after its DEL; the
				// DEL never reached a daemon, so only reconciliation is left.
				path := pod.Path()
				_ = pod.Close()
				if err := syscall.Unmount(path, syscall.MNT_DETACH); err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
				e.start()
				return ips
			},
		},
		{
			name:  "rollback DEL fails",
			fault: `{"add":{"code":11,"msg":"injected ADD failure"},"del":{"code":11,"msg":"injected DEL failure","times":1}}`,
			run: func(t *testing.T, e *faultEnv, id string, pod ns.NetNS, conf []byte) []string {
				if _, err := e.add(id, pod, conf); err == nil || !strings.Contains(err.Error(), "injected ADD failure") {
					t.Fatalf("ADD: %v", err)
				}
				if n := len(e.reserved("second")); n != 1 {
					t.Errorf("the failed rollback released the lease already (%d reserved)", n)
				}
				// No DEL from the runtime: the daemon alone must finish it.
				return nil
			},
		},
		{
			name: "ADD twice with the same container ID",
			run: func(t *testing.T, e *faultEnv, id string, pod ns.NetNS, conf []byte) []string {
				ips := mustAdd(t, e, id, pod, conf)
				again, err := e.add(id, pod, conf)
				if err != nil {
					t.Fatalf("repeated ADD: %v", err)
				}
				if strings.Join(again, ",") != strings.Join(ips, ",") {
					t.Errorf("repeated ADD result %v, first %v", again, ips)
				}
				mustDel(t, e, id, pod, conf)
				return ips
			},
		},
		{
			name: "hot-plug add then pod DEL",
			run: func(t *testing.T, e *faultEnv, id string, pod ns.NetNS, conf []byte) []string {
				ips := mustAdd(t, e, id, pod, conf)
				hot := bridgeConflist("hot", "mtbr2", "10.97.0.0/24", e.ipamDir)
				if err := e.delegate("ADD", id, pod, "net5", []byte(hot)); err != nil {
					t.Fatalf("/delegate ADD: %v", err)
				}
				if a := addrs(t, pod, "net5"); !inSubnet(t, a, "10.97.0.0/24") {
					t.Fatalf("net5 addresses %v", a)
				}
				mustDel(t, e, id, pod, conf)
				return ips
			},
		},
		{
			name: "portmap on the cluster network, DEL without runtimeConfig",
			run: func(t *testing.T, e *faultEnv, id string, pod ns.NetNS, conf []byte) []string {
				withPorts := map[string]any{}
				if err := json.Unmarshal(conf, &withPorts); err != nil {
					t.Fatal(err)
				}
				withPorts["runtimeConfig"] = map[string]any{"portMappings": []any{
					map[string]any{"hostPort": 18080, "containerPort": 80, "protocol": "tcp"}}}
				stdin, _ := json.Marshal(withPorts)
				ips := mustAdd(t, e, id, pod, stdin)
				if rules := natRulesNaming(t, e, ips[0]); rules == 0 {
					t.Fatalf("portmap made no DNAT rule for %s: the case proves nothing", ips[0])
				}
				// The DEL carries no runtimeConfig: the record's must be used.
				mustDel(t, e, id, pod, conf)
				return ips
			},
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newFaultEnv(t, tc.fault, tc.cfg)
			if strings.HasPrefix(tc.name, "portmap") {
				e.writeFile(filepath.Join(e.autoDir, "10-mtnet.conflist"), fmt.Sprintf(`{"cniVersion":"1.1.0","name":"mtnet","plugins":[`+
					`{"type":"bridge","bridge":"mtbr0","isGateway":true,"ipam":{"type":"host-local","dataDir":%q,"ranges":[[{"subnet":"10.99.0.0/24"}]]}},`+
					`{"type":"portmap","capabilities":{"portMappings":true}}]}`, e.ipamDir))
			}
			conf := e.startAndBaseline()
			pod := testutil.NewNetns(t)
			id := fmt.Sprintf("c0ffee1%03d", i)
			start := time.Now()
			ips := tc.run(t, e, id, pod, conf)
			took := e.converge(start, leakcheck.Spec{ContainerIDs: []string{id}, PodNetns: []string{pod.Path()}, PodIPs: ips})
			t.Logf("converged in %s (zero leaks)", took.Round(time.Millisecond))
		})
	}
}

func mustAdd(t *testing.T, e *faultEnv, id string, pod ns.NetNS, conf []byte) []string {
	t.Helper()
	ips, err := e.add(id, pod, conf)
	if err != nil {
		t.Fatal(err)
	}
	if len(ips) == 0 {
		t.Fatal("ADD returned no IP")
	}
	return ips
}

func mustDel(t *testing.T, e *faultEnv, id string, pod ns.NetNS, conf []byte) {
	t.Helper()
	if _, err := e.shim("DEL", id, pod, "p-"+id, conf); err != nil {
		t.Fatal(err)
	}
}

// natRulesNaming counts the node's iptables rules naming ip.
func natRulesNaming(t *testing.T, e *faultEnv, ip string) int {
	t.Helper()
	var out bytes.Buffer
	err := e.node.Do(func(ns.NetNS) error {
		cmd := exec.Command("iptables", "-t", "nat", "-S")
		cmd.Stdout = &out
		return cmd.Run()
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(out.String(), ip)
}
