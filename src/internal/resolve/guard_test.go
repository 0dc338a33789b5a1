package resolve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// isolationNADs: a NAD of the same name in the pod's namespace (team), a
// global namespace (default), the multus namespace (kube-system) and a
// foreign tenant namespace (other).
func isolationNADs() *fakeNADs {
	cfg := `{"cniVersion":"1.0.0","type":"bridge"}`
	return newFakeNADs(nad("team", "n", cfg, nil), nad("default", "n", cfg, nil),
		nad("kube-system", "n", cfg, nil), nad("other", "n", cfg, nil))
}

// TestIsolationEveryPath lists every way a pod's annotations name a NAD.
// Each is tried against each namespace; with namespaceIsolation only the
// pod's namespace and globalNamespaces may be used, and a refusal never
// looks the NAD up, leaves one NetworkForbidden event and names the NAD.
func TestIsolationEveryPath(t *testing.T) {
	const nets, dflt = "k8s.v1.cni.cncf.io/networks", "v1.multus-cni.io/default-network"
	paths := []struct {
		name string
		// annotations for a NAD "n" in namespace ns ("" = the annotation's
		// default namespace).
		ann func(ns string) map[string]string
		// defaultNS is where an entry without a namespace goes.
		defaultNS string
	}{
		{name: "networks text name", defaultNS: "team", ann: func(ns string) map[string]string {
			if ns == "" {
				return map[string]string{nets: "n"}
			}
			return map[string]string{nets: ns + "/n"}
		}},
		{name: "networks text name@ifname", defaultNS: "team", ann: func(ns string) map[string]string {
			if ns == "" {
				return map[string]string{nets: "n@net9"}
			}
			return map[string]string{nets: ns + "/n@net9"}
		}},
		{name: "networks JSON namespace field", defaultNS: "team", ann: func(ns string) map[string]string {
			return map[string]string{nets: fmt.Sprintf(`[{"name":"n","namespace":%q}]`, ns)}
		}},
		{name: "networks JSON, second entry", defaultNS: "team", ann: func(ns string) map[string]string {
			return map[string]string{nets: fmt.Sprintf(`[{"name":"n","namespace":"team","interface":"net1"},{"name":"n","namespace":%q,"interface":"net2"}]`, ns)}
		}},
		{name: "default-network text", defaultNS: "kube-system", ann: func(ns string) map[string]string {
			if ns == "" {
				return map[string]string{dflt: "n"}
			}
			return map[string]string{dflt: ns + "/n"}
		}},
		{name: "default-network JSON namespace field", defaultNS: "kube-system", ann: func(ns string) map[string]string {
			return map[string]string{dflt: fmt.Sprintf(`[{"name":"n","namespace":%q}]`, ns)}
		}},
		{name: "default-network plus networks", defaultNS: "kube-system", ann: func(ns string) map[string]string {
			a := map[string]string{nets: "team/n"}
			if ns == "" {
				a[dflt] = "n"
			} else {
				a[dflt] = ns + "/n"
			}
			return a
		}},
	}
	allowed := map[string]bool{"team": true, "default": true}
	for _, p := range paths {
		for _, ns := range []string{"", "team", "default", "kube-system", "other"} {
			target := ns
			if target == "" {
				target = p.defaultNS
			}
			for _, isolation := range []bool{false, true} {
				name := fmt.Sprintf("%s/ns=%q/isolation=%v", p.name, ns, isolation)
				t.Run(name, func(t *testing.T) {
					conf := baseConf(t, confDir(t), "flannel")
					conf.NamespaceIsolation = isolation
					nads, ev := isolationNADs(), &fakeEvents{}
					ds, err := New(Options{NADs: nads, Events: ev}).Delegates(context.Background(), conf, pod("team", "p", p.ann(ns)))
					if !isolation || allowed[target] {
						if err != nil {
							t.Fatalf("refused: %v", err)
						}
						for _, d := range ds {
							if d.Name == target+"/n" {
								return
							}
						}
						t.Fatalf("delegates %v do not include %s/n", names(ds), target)
					}
					if !errors.Is(err, ErrForbidden) {
						t.Fatalf("err = %v, want ErrForbidden", err)
					}
					for _, w := range []string{"pod team/p", target + "/n"} {
						if !strings.Contains(err.Error(), w) {
							t.Errorf("error %q does not name %q", err, w)
						}
					}
					for _, got := range nads.gets {
						if got == target+"/n" {
							t.Errorf("the refused NAD was looked up: %v", nads.gets)
						}
					}
					if len(ev.warnings) != 1 || !strings.HasPrefix(ev.warnings[0], ReasonNetworkForbidden+": ") {
						t.Errorf("warnings = %q, want one %s", ev.warnings, ReasonNetworkForbidden)
					}
				})
			}
		}
	}
}

// TestIsolationLeavesConfigNetworks: clusterNetwork and defaultNetworks
// come from the operator's config, not from the pod, and are not subject
// to isolation (upstream's rule, §4.4).
func TestIsolationLeavesConfigNetworks(t *testing.T) {
	conf := baseConf(t, confDir(t), "n")
	conf.NamespaceIsolation = true
	conf.DefaultNetworks = []string{"n"}
	ds, err := New(Options{NADs: isolationNADs()}).Delegates(context.Background(), conf, pod("team", "p", nil))
	if err != nil || fmt.Sprint(names(ds)) != "[kube-system/n kube-system/n]" {
		t.Fatalf("delegates = %v, err = %v", names(ds), err)
	}
}

// fakeLocator maps plugin types to files in a directory.
type fakeLocator struct{ dir string }

func (l fakeLocator) Locate(_, typ string) (os.FileInfo, error) {
	return os.Stat(filepath.Join(l.dir, typ))
}

func TestSelfCallRefused(t *testing.T) {
	bin := t.TempDir()
	writeFile(t, bin+"/multus-shim", "shim")
	writeFile(t, bin+"/bridge", "bridge")
	writeFile(t, bin+"/renamed-shim", "shim") // a copy: not the same file
	if err := os.Symlink(bin+"/multus-shim", bin+"/innocent"); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(bin+"/multus-shim", bin+"/hardlink"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, config string
		selfTypes    []string
		wantSelf     bool
	}{
		{name: "our shim", config: `{"cniVersion":"1.0.0","type":"multus-shim"}`, wantSelf: true},
		{name: "upstream thin plugin", config: `{"cniVersion":"1.0.0","type":"multus"}`, wantSelf: true},
		{name: "daemon binary", config: `{"cniVersion":"1.0.0","type":"multus-daemon"}`, wantSelf: true},
		{name: "shim inside a conflist", config: `{"cniVersion":"1.0.0","plugins":[{"type":"bridge"},{"type":"multus-shim"}]}`, wantSelf: true},
		{name: "symlink to the shim", config: `{"cniVersion":"1.0.0","type":"innocent"}`, wantSelf: true},
		{name: "hard link to the shim", config: `{"cniVersion":"1.0.0","type":"hardlink"}`, wantSelf: true},
		{name: "configured shim type", config: `{"cniVersion":"1.0.0","type":"my-multus"}`, selfTypes: []string{"my-multus"}, wantSelf: true},
		{name: "ordinary plugin", config: `{"cniVersion":"1.0.0","type":"bridge"}`},
		{name: "a copy is left to the socket check", config: `{"cniVersion":"1.0.0","type":"renamed-shim"}`},
		{name: "missing plugin is the runner's business", config: `{"cniVersion":"1.0.0","type":"absent"}`},
	}
	for _, tc := range tests {
		for _, annotation := range []string{"k8s.v1.cni.cncf.io/networks", "v1.multus-cni.io/default-network"} {
			t.Run(tc.name+"/"+annotation, func(t *testing.T) {
				nads := newFakeNADs(nad("team", "loop", tc.config, nil))
				ev := &fakeEvents{}
				r := New(Options{NADs: nads, Events: ev, Plugins: fakeLocator{bin}, SelfTypes: tc.selfTypes})
				_, err := r.Delegates(context.Background(), baseConf(t, confDir(t), "flannel"),
					pod("team", "p", map[string]string{annotation: "team/loop"}))
				if !tc.wantSelf {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					return
				}
				if !errors.Is(err, ErrSelfCall) {
					t.Fatalf("err = %v, want ErrSelfCall", err)
				}
				for _, w := range []string{"pod team/p", "network-attachment-definition team/loop", annotation} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not name %q", err, w)
					}
				}
				if len(ev.warnings) != 1 || !strings.HasPrefix(ev.warnings[0], ReasonInvalidNetwork) {
					t.Errorf("warnings = %q", ev.warnings)
				}
			})
		}
	}
}

// TestSelfCallConfigNetworks: the check covers the operator's networks
// too (a clusterNetwork pointing back at Multus would deadlock every ADD).
func TestSelfCallConfigNetworks(t *testing.T) {
	dir := confDir(t)
	writeFile(t, dir+"/50-loop.conf", `{"cniVersion":"1.0.0","name":"loop","type":"multus-shim"}`)
	nads := newFakeNADs(nad("kube-system", "loopnad", `{"cniVersion":"1.0.0","type":"multus"}`, nil))
	inline, err := netconf.Load([]byte(`{"cniVersion":"1.0.0","name":"m","type":"multus-shim","delegates":[{"cniVersion":"1.0.0","name":"a","type":"multus-shim"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	withDefault := baseConf(t, dir, "flannel")
	withDefault.DefaultNetworks = []string{"loop"}
	for name, tc := range map[string]struct {
		conf *netconf.NetConf
		want string
	}{
		"clusterNetwork file":    {conf: baseConf(t, dir, dir+"/50-loop.conf"), want: `config "loop"`},
		"clusterNetwork by name": {conf: baseConf(t, dir, "loop"), want: `config "loop"`},
		"clusterNetwork NAD":     {conf: baseConf(t, dir, "loopnad"), want: "network-attachment-definition kube-system/loopnad"},
		"defaultNetworks":        {conf: withDefault, want: `config "loop"`},
		"inline delegates":       {conf: inline, want: `delegate "a"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(Options{NADs: nads}).Delegates(context.Background(), tc.conf, nil)
			if !errors.Is(err, ErrSelfCall) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrSelfCall naming %s", err, tc.want)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	small := `{"cniVersion":"1.0.0","type":"bridge"}`
	big := `{"cniVersion":"1.0.0","type":"bridge","pad":"` + strings.Repeat("x", 200) + `"}`
	nads := newFakeNADs(nad("team", "small", small, nil), nad("team", "big", big, nil),
		nad("team", "dropped", "", map[string]string{OversizedAnnotation: "5000000"}))
	entries := func(n int, name string) string {
		var parts []string
		for i := range n {
			parts = append(parts, fmt.Sprintf(`{"name":%q,"interface":"net%d"}`, name, i))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	limits := Limits{MaxNetworks: 3, MaxNADConfigBytes: 100}
	tests := []struct {
		name, networks string
		want           []string // substrings; none means success
	}{
		{name: "at the entry bound", networks: entries(3, "small")},
		{name: "over the entry bound", networks: entries(4, "small"),
			want: []string{"4 entries", "team/small is entry 4", "limit of 3 (maxNetworksPerPod)"}},
		{name: "hundreds of entries", networks: entries(500, "big"),
			want: []string{"500 entries", "limit of 3 (maxNetworksPerPod)"}},
		{name: "text form over the bound", networks: "small@a,small@b,small@c,small@d",
			want: []string{"4 entries", "maxNetworksPerPod"}},
		{name: "NAD config over the size bound", networks: "big",
			want: []string{"network-attachment-definition team/big", "bytes, over the limit of 100 (maxNADConfigBytes)"}},
		{name: "config dropped by the cache", networks: "dropped",
			want: []string{"network-attachment-definition team/dropped", "5000000 bytes", "maxNADConfigBytes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeNADs()
			f.nads = nads.nads
			ev := &fakeEvents{}
			ds, err := New(Options{NADs: f, Events: ev, Limits: limits}).Delegates(context.Background(),
				baseConf(t, confDir(t), "flannel"), pod("team", "p", map[string]string{"k8s.v1.cni.cncf.io/networks": tc.networks}))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if len(ds) != 4 {
					t.Errorf("delegates = %v", names(ds))
				}
				return
			}
			if !errors.Is(err, ErrLimit) || !errors.Is(err, attach.ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrLimit and ErrInvalidConfig", err)
			}
			if attach.Code(fmt.Errorf("resolve networks: %w", err)) != 7 {
				t.Errorf("CNI code = %d, want 7", attach.Code(err))
			}
			for _, w := range append(tc.want, "pod team/p") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(tc.name, "entry") && len(f.gets) != 0 {
				t.Errorf("NADs looked up before the entry bound was checked: %d", len(f.gets))
			}
			if len(ev.warnings) != 1 || !strings.HasPrefix(ev.warnings[0], ReasonInvalidNetwork) {
				t.Errorf("warnings = %q", ev.warnings)
			}
		})
	}
}

func TestLimitDefaults(t *testing.T) {
	got := Limits{}.withDefaults()
	if got.MaxNetworks != DefaultMaxNetworks || got.MaxNADConfigBytes != DefaultMaxNADConfigBytes {
		t.Errorf("defaults = %+v", got)
	}
	if got := (Limits{MaxNetworks: 2}).withDefaults(); got.MaxNetworks != 2 {
		t.Errorf("explicit bound overridden: %+v", got)
	}
}
