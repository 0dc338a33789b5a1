package resolve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// fakeNADs is a map-backed NADGetter that records how it was called.
type fakeNADs struct {
	mu     sync.Mutex
	nads   map[string]*nadv1.NetworkAttachmentDefinition
	gets   []string
	probes []string
}

func newFakeNADs(nads ...*nadv1.NetworkAttachmentDefinition) *fakeNADs {
	f := &fakeNADs{nads: map[string]*nadv1.NetworkAttachmentDefinition{}}
	for _, n := range nads {
		f.nads[n.Namespace+"/"+n.Name] = n
	}
	return f
}

func (f *fakeNADs) lookup(ns, name string) (*nadv1.NetworkAttachmentDefinition, error) {
	if n, ok := f.nads[ns+"/"+name]; ok {
		return n.DeepCopy(), nil
	}
	return nil, fmt.Errorf("%s/%s: %w", ns, name, ErrNADNotFound)
}

func (f *fakeNADs) GetNAD(_ context.Context, ns, name string) (*nadv1.NetworkAttachmentDefinition, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets = append(f.gets, ns+"/"+name)
	return f.lookup(ns, name)
}

func (f *fakeNADs) ProbeNAD(_ context.Context, ns, name string) (*nadv1.NetworkAttachmentDefinition, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probes = append(f.probes, ns+"/"+name)
	return f.lookup(ns, name)
}

// fakeEvents records warnings (it implements attach.Events and Warner).
type fakeEvents struct{ warnings []string }

func (e *fakeEvents) AddedInterface(*corev1.Pod, string, []string, string) {}
func (e *fakeEvents) AddFailed(*corev1.Pod, string, string, uint, error)   {}
func (e *fakeEvents) AddedInterfaces(*corev1.Pod, []attach.AddedInterface) {}
func (e *fakeEvents) Warning(pod *corev1.Pod, reason, msg string) {
	e.warnings = append(e.warnings, reason+": "+msg)
}

type fakeDevices map[string][]string

func (f fakeDevices) DeviceIDs(context.Context, *corev1.Pod) (map[string][]string, error) {
	return f, nil
}

func nad(ns, name, config string, annotations map[string]string) *nadv1.NetworkAttachmentDefinition {
	return &nadv1.NetworkAttachmentDefinition{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations},
		Spec:       nadv1.NetworkAttachmentDefinitionSpec{Config: config},
	}
}

func pod(ns, name string, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: "uid-1", Annotations: annotations}}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// confDir returns a directory with a cluster network file, a conflist
// with a chain subdirectory and a config named like a NAD with empty spec.
func confDir(t *testing.T) string {
	dir := t.TempDir()
	writeFile(t, dir+"/10-flannel.conf", `{"cniVersion":"1.0.0","name":"flannel","type":"flannel"}`)
	writeFile(t, dir+"/20-chained.conflist", `{"cniVersion":"1.0.0","name":"chained","plugins":[{"type":"bridge"}]}`)
	writeFile(t, dir+"/chained/10-tuning.conf", `{"type":"tuning"}`)
	writeFile(t, dir+"/chained/20-portmap.conf", `{"type":"portmap"}`)
	writeFile(t, dir+"/30-inlined.conflist", `{"cniVersion":"1.0.0","name":"inlined","loadOnlyInlinedPlugins":true,"plugins":[{"type":"ptp"}]}`)
	writeFile(t, dir+"/inlined/10-tuning.conf", `{"type":"tuning"}`)
	writeFile(t, dir+"/40-empty-spec.json", `{"cniVersion":"1.0.0","name":"file-backed","type":"macvlan"}`)
	return dir
}

func baseConf(t *testing.T, dir, cluster string) *netconf.NetConf {
	t.Helper()
	raw, _ := json.Marshal(map[string]any{"cniVersion": "1.0.0", "name": "multus", "type": "multus-shim", "clusterNetwork": cluster, "confDir": dir})
	conf, err := netconf.Load(raw)
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

func names(ds []*netconf.Delegate) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Name)
	}
	return out
}

func pluginTypes(d *netconf.Delegate) []string {
	var out []string
	for _, p := range d.ConfList.Plugins {
		out = append(out, p.Type)
	}
	return out
}

func TestClusterNetworkForms(t *testing.T) {
	dir := confDir(t)
	tests := []struct {
		name        string
		cluster     string
		nads        NADGetter
		wantName    string
		wantPlugins []string
	}{
		{name: "file path", cluster: dir + "/10-flannel.conf", wantName: "flannel"},
		{name: "directory takes the first file", cluster: dir, wantName: "flannel"},
		{name: "config name in confDir", cluster: "flannel", wantName: "flannel"},
		{name: "config name, NAD probed first", cluster: "flannel", nads: newFakeNADs(), wantName: "flannel"},
		{name: "NAD in multusNamespace wins", cluster: "flannel", nads: newFakeNADs(nad("kube-system", "flannel", `{"cniVersion":"1.0.0","type":"bridge"}`, nil)), wantName: "kube-system/flannel"},
		{name: "conflist gets its subdirectory chain", cluster: dir + "/20-chained.conflist", wantName: "chained", wantPlugins: []string{"bridge", "tuning", "portmap"}},
		{name: "conflist by name gets the chain too", cluster: "chained", wantName: "chained", wantPlugins: []string{"bridge", "tuning", "portmap"}},
		{name: "loadOnlyInlinedPlugins skips the chain", cluster: dir + "/30-inlined.conflist", wantName: "inlined", wantPlugins: []string{"ptp"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := New(Options{NADs: tc.nads})
			ds, err := r.Delegates(context.Background(), baseConf(t, dir, tc.cluster), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != 1 || ds[0].Name != tc.wantName || !ds[0].MasterPlugin {
				t.Fatalf("delegates = %v (master %v), want [%s] master", names(ds), ds[0].MasterPlugin, tc.wantName)
			}
			if got := pluginTypes(ds[0]); fmt.Sprint(got) != fmt.Sprint(tc.wantPlugins) {
				t.Errorf("plugins = %v, want %v", got, tc.wantPlugins)
			}
			if f, ok := tc.nads.(*fakeNADs); ok && len(f.gets) != 0 {
				t.Errorf("cluster network used the waiting GetNAD %v; want ProbeNAD only", f.gets)
			}
			cn, err := r.ClusterNetwork(context.Background(), baseConf(t, dir, tc.cluster))
			if err != nil || cn.Name != tc.wantName {
				t.Errorf("ClusterNetwork = %v, %v", cn, err)
			}
		})
	}
}

func TestClusterNetworkMissing(t *testing.T) {
	dir := confDir(t)
	for _, cluster := range []string{"nope", dir + "/nope.conf"} {
		_, err := New(Options{}).Delegates(context.Background(), baseConf(t, dir, cluster), nil)
		if err == nil || !strings.Contains(err.Error(), "failed to get clusterNetwork") {
			t.Errorf("clusterNetwork %q: err = %v", cluster, err)
		}
	}
}

func TestInlineDelegates(t *testing.T) {
	conf, err := netconf.Load([]byte(`{"cniVersion":"1.0.0","name":"multus","type":"multus-shim","delegates":[{"cniVersion":"1.0.0","name":"a","type":"bridge"},{"cniVersion":"1.0.0","name":"b","type":"ptp"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := New(Options{}).Delegates(context.Background(), conf, pod("default", "p", nil))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(names(ds)) != "[a b]" || !ds[0].MasterPlugin || ds[1].MasterPlugin {
		t.Errorf("delegates = %v", names(ds))
	}
}

func TestDefaultNetworksAndSystemNamespaces(t *testing.T) {
	dir := confDir(t)
	conf := baseConf(t, dir, "flannel")
	conf.DefaultNetworks = []string{"chained"}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{name: "no pod (DEL)", pod: nil, want: "[flannel chained]"},
		{name: "ordinary pod", pod: pod("default", "p", nil), want: "[flannel chained]"},
		{name: "pod in a system namespace", pod: pod("kube-system", "p", nil), want: "[flannel]"},
		// Upstream compared the pod NAME with the namespace list.
		{name: "pod NAMED like a system namespace", pod: pod("default", "kube-system", nil), want: "[flannel chained]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := New(Options{}).Delegates(context.Background(), conf, tc.pod)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(names(ds)); got != tc.want {
				t.Errorf("delegates = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestPodAnnotations(t *testing.T) {
	dir := confDir(t)
	nads := newFakeNADs(
		nad("default", "macvlan", `{"cniVersion":"1.0.0","type":"macvlan","args":{"cni":{"keep":"1","over":"old"}}}`, nil),
		nad("default", "file-backed", "", nil),
		nad("kube-system", "calico", `{"cniVersion":"1.0.0","name":"calico","type":"calico"}`, nil),
		nad("other", "list", `{"cniVersion":"1.0.0","plugins":[{"type":"bridge"},{"type":"tuning"}]}`, nil),
	)
	conf := baseConf(t, dir, "flannel")
	p := pod("default", "p", map[string]string{
		"v1.multus-cni.io/default-network": "calico",
		"k8s.v1.cni.cncf.io/networks": `[{"name":"macvlan","interface":"eth7","mac":"02:00:00:00:00:07","ips":["10.0.0.7/24"],
			"cni-args":{"over":"new"},"bandwidth":{"ingressRate":1},"portMappings":[{"hostPort":1,"containerPort":2}],
			"infiniband-guid":"c2:11:22:33:44:55:66:77","default-route":["10.0.0.1"]},
			{"name":"file-backed"},{"name":"list","namespace":"other"}]`,
	})
	ds, err := New(Options{NADs: nads}).Delegates(context.Background(), conf, p)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(names(ds)); got != "[kube-system/calico default/macvlan default/file-backed other/list]" {
		t.Fatalf("delegates = %s", got)
	}
	if !ds[0].MasterPlugin || ds[1].MasterPlugin {
		t.Error("the default-network annotation must replace index 0 as master")
	}
	mv := ds[1]
	if mv.Conf.Name != "macvlan" {
		t.Errorf("NAD name not injected into spec.config: %s", mv.Bytes)
	}
	if mv.IfnameRequest != "eth7" || mv.MacRequest != "02:00:00:00:00:07" || fmt.Sprint(mv.IPRequest) != "[10.0.0.7/24]" ||
		mv.BandwidthRequest == nil || len(mv.PortMappingsRequest) != 1 || mv.InfinibandGUIDRequest == "" || mv.GatewayRequest == nil {
		t.Errorf("requests not copied: %+v", mv)
	}
	var cfg struct {
		Args struct {
			CNI map[string]string `json:"cni"`
		} `json:"args"`
	}
	if err := json.Unmarshal(mv.Bytes, &cfg); err != nil || cfg.Args.CNI["keep"] != "1" || cfg.Args.CNI["over"] != "new" {
		t.Errorf("cni-args not merged: %s", mv.Bytes)
	}
	if ds[2].Name != "default/file-backed" || ds[2].Conf.Type != "macvlan" {
		t.Errorf("empty spec must load the confDir file named after the NAD: %+v", ds[2])
	}
	if !ds[3].ConfListPlugin || ds[3].ConfList.Name != "list" {
		t.Errorf("conflist NAD: %s", ds[3].Bytes)
	}
}

func TestDeviceIDs(t *testing.T) {
	res := map[string]string{api.ResourceNameAnnotation: "intel.com/sriov"}
	nads := newFakeNADs(
		nad("default", "sriov", `{"cniVersion":"1.0.0","type":"sriov"}`, res),
		nad("default", "sriov-list", `{"cniVersion":"1.0.0","name":"l","plugins":[{"type":"sriov"},{"type":"tuning"}]}`, res),
	)
	p := pod("default", "p", map[string]string{"k8s.v1.cni.cncf.io/networks": `[{"name":"sriov","deviceID":"ignored"},{"name":"sriov-list"},{"name":"sriov","deviceID":"used"}]`})
	r := New(Options{NADs: nads, DeviceIDs: fakeDevices{"intel.com/sriov": {"0000:01:00.1", "0000:01:00.2"}}})
	ds, err := r.Delegates(context.Background(), baseConf(t, confDir(t), "flannel"), p)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"0000:01:00.1", "0000:01:00.2", "used"}
	for i, d := range ds[1:] {
		if d.DeviceID != want[i] {
			t.Errorf("delegate %d deviceID = %q, want %q", i, d.DeviceID, want[i])
		}
	}
	if !strings.Contains(string(ds[1].Bytes), `"pciBusID":"0000:01:00.1"`) {
		t.Errorf("pciBusID not injected: %s", ds[1].Bytes)
	}
	if strings.Count(string(ds[2].Bytes), `"deviceID":"0000:01:00.2"`) != 2 {
		t.Errorf("deviceID must be injected into every plugin of a conflist: %s", ds[2].Bytes)
	}
	if strings.Contains(string(ds[3].Bytes), "used") {
		t.Errorf("the annotation's deviceID goes to runtimeConfig, not into the config: %s", ds[3].Bytes)
	}
}

// partialDevices is a source that returns a usable map with an error.
type partialDevices struct {
	ids map[string][]string
	err error
}

func (f partialDevices) DeviceIDs(context.Context, *corev1.Pod) (map[string][]string, error) {
	return f.ids, f.err
}

func TestDeviceIDsShortOrIncomplete(t *testing.T) {
	res := map[string]string{api.ResourceNameAnnotation: "example.com/sriov"}
	nads := newFakeNADs(nad("default", "sriov", `{"cniVersion":"1.0.0","type":"sriov"}`, res))
	incomplete := fmt.Errorf("%w: resourceclaim default/c is not allocated", ErrDevicesIncomplete)
	one := map[string][]string{"example.com/sriov": {"0000:01:00.1"}}
	tests := []struct {
		name, networks string
		src            partialDevices
		wantIDs        []string
		wantErr        []string // substrings; nil: no error
		wantWarning    string
	}{
		{name: "incomplete, but the NAD got its device", networks: "sriov",
			src: partialDevices{one, incomplete}, wantIDs: []string{"0000:01:00.1"}},
		{name: "incomplete and the resource runs short: error naming NAD, resource and claim", networks: "sriov,sriov",
			src:     partialDevices{one, incomplete},
			wantErr: []string{"network-attachment-definition default/sriov", `no device of resource "example.com/sriov"`, "resourceclaim default/c is not allocated"}},
		{name: "no device of the resource: warning naming the NAD", networks: "sriov",
			src: partialDevices{map[string][]string{}, nil}, wantIDs: []string{""},
			wantWarning: `NoDeviceForNetwork: network-attachment-definition default/sriov: the pod has no device of resource "example.com/sriov" left`},
		{name: "a failing source fails the NAD", networks: "sriov",
			src: partialDevices{nil, errors.New("pod-resources: List: unavailable")}, wantErr: []string{"pod-resources: List: unavailable"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := &fakeEvents{}
			r := New(Options{NADs: nads, Events: ev, DeviceIDs: tc.src})
			p := pod("default", "p", map[string]string{"k8s.v1.cni.cncf.io/networks": tc.networks})
			ds, err := r.Delegates(context.Background(), baseConf(t, confDir(t), "flannel"), p)
			if tc.wantErr != nil {
				for _, want := range tc.wantErr {
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Errorf("error %v does not contain %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, d := range ds[1:] {
				ids = append(ids, d.DeviceID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tc.wantIDs) {
				t.Errorf("device IDs %q, want %q", ids, tc.wantIDs)
			}
			if got := strings.Join(ev.warnings, "\n"); tc.wantWarning != "" && !strings.Contains(got, tc.wantWarning) {
				t.Errorf("warnings %q, want %q", got, tc.wantWarning)
			} else if tc.wantWarning == "" && got != "" {
				t.Errorf("unexpected warnings %q", got)
			}
		})
	}
}

func TestNamespaceIsolation(t *testing.T) {
	nads := newFakeNADs(nad("default", "a", `{"cniVersion":"1.0.0","type":"bridge"}`, nil),
		nad("team", "b", `{"cniVersion":"1.0.0","type":"bridge"}`, nil),
		nad("other", "c", `{"cniVersion":"1.0.0","type":"bridge"}`, nil))
	tests := []struct {
		name, networks string
		wantErr        bool
	}{
		{name: "own namespace", networks: "team/b"},
		{name: "global namespace", networks: "default/a"},
		{name: "foreign namespace", networks: "other/c", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conf := baseConf(t, confDir(t), "flannel")
			conf.NamespaceIsolation = true
			ev := &fakeEvents{}
			_, err := New(Options{NADs: nads, Events: ev}).Delegates(context.Background(), conf,
				pod("team", "p", map[string]string{"k8s.v1.cni.cncf.io/networks": tc.networks}))
			if !tc.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "pod team/p") || !strings.Contains(err.Error(), "other/c") {
				t.Fatalf("err = %v", err)
			}
			if len(ev.warnings) != 1 || !strings.HasPrefix(ev.warnings[0], ReasonNetworkForbidden) {
				t.Errorf("warnings = %v", ev.warnings)
			}
		})
	}
}

// TestBadInput: each failure names the pod, the annotation or NAD and the
// rule, and leaves a Warning event on the pod.
func TestBadInput(t *testing.T) {
	nads := newFakeNADs(
		nad("default", "ok", `{"cniVersion":"1.0.0","type":"bridge"}`, nil),
		nad("default", "ok2", `{"cniVersion":"1.0.0","type":"bridge"}`, nil),
		nad("default", "notjson", `{"type": bridge`, nil),
		nad("default", "notype", `{"cniVersion":"1.0.0","name":"x"}`, nil),
		nad("default", "nofile", "", nil),
		nad("kube-system", "dflt", `{"cniVersion":"1.0.0","type":"bridge"}`, nil),
	)
	tests := []struct {
		name        string
		annotations map[string]string
		want        []string // substrings of the error
		wantIs      error
		wantReason  string
	}{
		{name: "malformed annotation", annotations: map[string]string{"k8s.v1.cni.cncf.io/networks": `[{"name":`},
			want: []string{"k8s.v1.cni.cncf.io/networks", "must be an array"}, wantReason: ReasonInvalidNetwork},
		{name: "malformed default-network", annotations: map[string]string{"v1.multus-cni.io/default-network": "a,b"},
			want: []string{"v1.multus-cni.io/default-network", "exactly one"}, wantReason: ReasonInvalidNetwork},
		{name: "missing NAD", annotations: map[string]string{"k8s.v1.cni.cncf.io/networks": "missing"},
			want: []string{"default/missing"}, wantIs: ErrNADNotFound, wantReason: ReasonNoNetworkFound},
		{name: "NAD config not JSON", annotations: map[string]string{"k8s.v1.cni.cncf.io/networks": "notjson"},
			want: []string{"default/notjson", "not a JSON object"}, wantReason: ReasonInvalidNetwork},
		{name: "NAD config without type", annotations: map[string]string{"k8s.v1.cni.cncf.io/networks": "notype"},
			want: []string{"default/notype", `no "type"`}, wantIs: netconf.ErrNoType, wantReason: ReasonInvalidNetwork},
		{name: "empty spec without a file", annotations: map[string]string{"k8s.v1.cni.cncf.io/networks": "nofile"},
			want: []string{"default/nofile", "empty spec.config"}, wantIs: ErrConfigNotFound, wantReason: ReasonInvalidNetwork},
		{name: "interface name too long", annotations: map[string]string{"k8s.v1.cni.cncf.io/networks": "ok@abcdefghijklmnop"},
			want: []string{"k8s.v1.cni.cncf.io/networks", "longer than 15"}, wantReason: ReasonInvalidNetwork},
		{name: "duplicate interface within the annotation", annotations: map[string]string{"k8s.v1.cni.cncf.io/networks": "ok@x1,ok2@x1"},
			want: []string{"already requested"}, wantReason: ReasonInvalidNetwork},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := &fakeEvents{}
			_, err := New(Options{NADs: nads, Events: ev}).Delegates(context.Background(),
				baseConf(t, confDir(t), "flannel"), pod("default", "p", tc.annotations))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range append(tc.want, "pod default/p") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v is not %v", err, tc.wantIs)
			}
			if len(ev.warnings) != 1 || !strings.HasPrefix(ev.warnings[0], tc.wantReason+": ") {
				t.Errorf("warnings = %q, want one %s", ev.warnings, tc.wantReason)
			}
		})
	}
}

func TestFilesOnlyRejectsNADs(t *testing.T) {
	_, err := New(Options{}).Delegates(context.Background(), baseConf(t, confDir(t), "flannel"),
		pod("default", "p", map[string]string{"k8s.v1.cni.cncf.io/networks": "a"}))
	if !errors.Is(err, ErrNoNADSource) {
		t.Fatalf("err = %v", err)
	}
}

func TestAuxiliaryChain(t *testing.T) {
	dir := confDir(t)
	writeFile(t, dir+"/aux/10-sbr.conf", `{"type":"sbr"}`)
	tests := []struct {
		name, cluster, chain string
		wantAux              bool
		wantErr              string
	}{
		{name: "chain next to the cluster file", cluster: dir + "/10-flannel.conf", chain: "aux", wantAux: true},
		{name: "chain inside the cluster directory", cluster: dir, chain: "aux", wantAux: true},
		{name: "no chain directory", cluster: dir + "/10-flannel.conf", chain: "absent"},
		{name: "cluster network is not a path", cluster: "flannel", chain: "aux", wantErr: "needs clusterNetwork to be a path"},
		{name: "chain name with a slash", cluster: dir, chain: "../x", wantErr: "not a valid directory name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conf := baseConf(t, dir, tc.cluster)
			conf.AuxiliaryCNIChainName = tc.chain
			ds, err := New(Options{}).Delegates(context.Background(), conf, pod("default", "p", nil))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.wantAux {
				if len(ds) != 1 {
					t.Errorf("delegates = %v, want the cluster network only", names(ds))
				}
				return
			}
			aux := ds[len(ds)-1]
			if len(ds) != 2 || aux.Name != tc.chain || fmt.Sprint(pluginTypes(aux)) != "[passthru sbr]" || aux.CNIVersion() != "1.0.0" {
				t.Errorf("aux = %s", aux.Bytes)
			}
		})
	}
}

// downNADs fails every lookup as an unreachable API server would.
type downNADs struct{}

func (downNADs) GetNAD(context.Context, string, string) (*nadv1.NetworkAttachmentDefinition, error) {
	return nil, errors.New("connection refused")
}

// TestClusterNetworkFileWhileAPIDown: a cluster network configured on
// disk keeps working when the NAD lookup fails; without such a file the
// lookup error is reported.
func TestClusterNetworkFileWhileAPIDown(t *testing.T) {
	dir := confDir(t)
	ds, err := New(Options{NADs: downNADs{}}).Delegates(context.Background(), baseConf(t, dir, "flannel"), nil)
	if err != nil || ds[0].Name != "flannel" {
		t.Fatalf("delegates = %v, err = %v", names(ds), err)
	}
	_, err = New(Options{NADs: downNADs{}}).Delegates(context.Background(), baseConf(t, dir, "nope"), nil)
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !errors.Is(err, ErrConfigNotFound) {
		t.Fatalf("err = %v", err)
	}
}
