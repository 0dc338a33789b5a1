package attach

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	cnitypes "github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// execCall is what the fake plugin received.
type execCall struct {
	Command, ContainerID, Netns, IfName, Args, Path string
	Name, Type                                      string
	Stdin                                           map[string]any
}

// String is the compact form the tables compare: "ADD cluster eth0".
func (c execCall) String() string {
	if c.IfName == "" {
		return c.Command + " " + c.Name
	}
	return c.Command + " " + c.Name + " " + c.IfName
}

// fakeExec is a record/return invoke.Exec in the spirit of cni's
// pkg/invoke/fakes: every call is recorded; ADD returns a result in the
// config's version with one interface and one IP per network; errors are
// scripted per "COMMAND name".
type fakeExec struct {
	mu    sync.Mutex
	calls []execCall
	fail  map[string]error
	// hook, when set, runs inside every call (e.g. to block on ctx).
	hook func(ctx context.Context, c execCall)
	version.PluginDecoder
}

func (f *fakeExec) FindInPath(plugin string, paths []string) (string, error) {
	if len(paths) == 0 {
		return "", fmt.Errorf("no paths")
	}
	return paths[0] + "/" + plugin, nil
}

func (f *fakeExec) ExecPlugin(ctx context.Context, path string, stdin []byte, environ []string) ([]byte, error) {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	c := execCall{Command: env["CNI_COMMAND"], ContainerID: env["CNI_CONTAINERID"], Netns: env["CNI_NETNS"],
		IfName: env["CNI_IFNAME"], Args: env["CNI_ARGS"], Path: path}
	if err := json.Unmarshal(stdin, &c.Stdin); err != nil {
		return nil, err
	}
	c.Name, _ = c.Stdin["name"].(string)
	c.Type, _ = c.Stdin["type"].(string)
	f.mu.Lock()
	f.calls = append(f.calls, c)
	err := f.fail[c.Command+" "+c.Name]
	hook := f.hook
	f.mu.Unlock()
	if hook != nil {
		hook(ctx, c)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr // the real Exec kills the plugin here
		}
	}
	if err != nil {
		return nil, err
	}
	if c.Command != "ADD" {
		return nil, nil
	}
	v, _ := c.Stdin["cniVersion"].(string)
	return fakeResult(v, c), nil
}

// fakeResult gives network n (by a stable hash of its name) 10.<n>.0.2/24
// with a default route via 10.<n>.0.1.
func fakeResult(v string, c execCall) []byte {
	n := 0
	for _, r := range c.Name {
		n = (n*31 + int(r)) % 200
	}
	idx := 0
	gw := net.IPv4(10, byte(n), 0, 1)
	res := &types100.Result{
		CNIVersion: types100.ImplementedSpecVersion,
		Interfaces: []*types100.Interface{{Name: c.IfName, Mac: "0a:58:0a:00:00:02", Sandbox: c.Netns}},
		IPs: []*types100.IPConfig{{Interface: &idx, Gateway: gw,
			Address: net.IPNet{IP: net.IPv4(10, byte(n), 0, 2), Mask: net.CIDRMask(24, 32)}}},
		Routes: []*cnitypes.Route{{Dst: net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}, GW: gw}},
	}
	conv, err := res.GetAsVersion(v)
	if err != nil {
		panic(err)
	}
	out, _ := json.Marshal(conv)
	return out
}

func (f *fakeExec) callStrings(command ...string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if len(command) == 0 || contains(command, c.Command) {
			out = append(out, c.String())
		}
	}
	return out
}

func (f *fakeExec) find(command, name string) (execCall, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if c.Command == command && c.Name == name {
			return c, true
		}
	}
	return execCall{}, false
}

func (f *fakeExec) findType(command, typ string) (execCall, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if c.Command == command && c.Type == typ {
			return c, true
		}
	}
	return execCall{}, false
}

func (f *fakeExec) reset() {
	f.mu.Lock()
	f.calls = nil
	f.mu.Unlock()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// fakeResolver returns freshly loaded delegates on every call (ADD mutates
// them), built by build.
type fakeResolver struct {
	build func(pod *corev1.Pod) []*netconf.Delegate
	err   error
	// podErr fails only the calls that carry a pod (its annotation).
	podErr  error
	calls   int
	cluster func() *netconf.Delegate
}

func (r *fakeResolver) Delegates(_ context.Context, _ *netconf.NetConf, pod *corev1.Pod) ([]*netconf.Delegate, error) {
	r.calls++
	if r.err != nil {
		return nil, r.err
	}
	if r.podErr != nil && pod != nil {
		return nil, r.podErr
	}
	return r.build(pod), nil
}

func (r *fakeResolver) ClusterNetwork(context.Context, *netconf.NetConf) (*netconf.Delegate, error) {
	if r.cluster != nil {
		return r.cluster(), nil
	}
	return r.build(nil)[0], nil
}

type fakePods struct {
	pod *corev1.Pod
	err error
	ops []Op
}

func (p *fakePods) GetPod(_ context.Context, _ PodRef, op Op) (*corev1.Pod, error) {
	p.ops = append(p.ops, op)
	return p.pod, p.err
}

type fakeStatus struct {
	current []nadv1.NetworkStatus
	err     error
	writes  int
}

func (s *fakeStatus) SetNetworkStatus(_ context.Context, _ PodRef, statuses []nadv1.NetworkStatus) error {
	if s.err != nil {
		return s.err
	}
	s.writes++
	s.current = statuses
	return nil
}

func (s *fakeStatus) UpdateNetworkStatus(_ context.Context, _ PodRef, mutate func([]nadv1.NetworkStatus) []nadv1.NetworkStatus) error {
	if s.err != nil {
		return s.err
	}
	s.writes++
	s.current = mutate(s.current)
	return nil
}

type fakeEvents struct {
	mu     sync.Mutex
	added  []string
	failed []string
	// perPod holds one entry per AddedInterfaces call.
	perPod [][]string
}

func (e *fakeEvents) AddedInterfaces(_ *corev1.Pod, added []AddedInterface) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var one []string
	for _, a := range added {
		one = append(one, fmt.Sprintf("%s %v %s", a.IfName, a.IPs, a.Network))
	}
	e.perPod = append(e.perPod, one)
}

func (e *fakeEvents) AddedInterface(_ *corev1.Pod, ifname string, ips []string, network string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.added = append(e.added, fmt.Sprintf("%s %v %s", ifname, ips, network))
}

func (e *fakeEvents) AddFailed(_ *corev1.Pod, network, typ string, code uint, _ error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failed = append(e.failed, fmt.Sprintf("%s %s %d", network, typ, code))
}

type fakeObserver struct {
	mu      sync.Mutex
	done    []string
	corrupt []string
}

func (o *fakeObserver) DelegateDone(typ, command string, _ time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.done = append(o.done, fmt.Sprintf("%s %s %v", typ, command, err != nil))
}

func (o *fakeObserver) CorruptCache(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.corrupt = append(o.corrupt, id)
}

// fakeNet is netOps without a kernel.
type fakeNet struct {
	mu     sync.Mutex
	links  map[string]bool // ifnames that already exist
	routes []string
}

func (n *fakeNet) LinkExists(_, ifname string) (bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.links[ifname], nil
}

func (n *fakeNet) SetDefaultRoutes(_, ifname string, delV4, delV6 bool, gws []net.IP) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.routes = append(n.routes, fmt.Sprintf("%s del4=%v del6=%v gw=%v", ifname, delV4, delV6, gws))
	return nil
}

func testPod() *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "pod", UID: types.UID("uid-1")}}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
