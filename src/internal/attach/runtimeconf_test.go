package attach

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	types100 "github.com/containernetworking/cni/pkg/types/100"

	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

func TestRuntimeConfigRouting(t *testing.T) {
	secondaryPorts := []*netconf.PortMapEntry{{HostPort: 9090, ContainerPort: 90, Protocol: "udp"}}
	cases := []struct {
		name    string
		network string
		want    string // runtimeConfig the plugin received, as JSON ("" = none)
	}{
		{name: "master gets the runtime's runtimeConfig unchanged", network: "cluster",
			want: `{"bandwidth":{"egressBurst":1,"egressRate":1,"ingressBurst":1,"ingressRate":1},"portMappings":[{"containerPort":80,"hostPort":8080,"protocol":"tcp"}]}`},
		{name: "secondary gets only its own portMappings", network: "net-a",
			want: `{"portMappings":[{"containerPort":90,"hostPort":9090,"protocol":"udp"}]}`},
		{name: "secondary without requests gets nothing of the runtime's", network: "net-b", want: ""},
		{name: "secondary with ips and mac requests", network: "net-c",
			want: `{"ips":["10.9.0.5/24"],"mac":"02:00:00:00:00:05"}`},
	}
	forVersions(t, func(t *testing.T, v string) {
		e := newEnv(t, v, clusterNet,
			netSpec{name: "net-a", typ: "macvlan", ports: secondaryPorts},
			netSpec{name: "net-b", typ: "macvlan"},
			netSpec{name: "net-c", typ: "macvlan", ips: []string{"10.9.0.5/24"}, mac: "02:00:00:00:00:05"})
		e.runtimeConfig = `{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}],"bandwidth":{"ingressRate":1,"ingressBurst":1,"egressRate":1,"egressBurst":1}}`
		if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				call, ok := e.exec.find("ADD", tc.network)
				if !ok {
					t.Fatalf("no ADD for %s", tc.network)
				}
				got := ""
				if rc, ok := call.Stdin["runtimeConfig"]; ok {
					raw, _ := json.Marshal(rc)
					got = string(raw)
				}
				if got != tc.want {
					t.Errorf("runtimeConfig = %s\nwant            %s", got, tc.want)
				}
			})
		}
	})
}

func TestCNIArgsForwarding(t *testing.T) {
	const k8s = "IgnoreUnknown=true;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=pod;K8S_POD_INFRA_CONTAINER_ID=c1;K8S_POD_UID=uid-1"
	cases := []struct {
		name    string
		cniArgs string
		network string
		want    string
	}{
		{name: "extra runtime args forwarded, values with '=' intact", network: "cluster",
			cniArgs: "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=pod;K8S_POD_INFRA_CONTAINER_ID=c1;K8S_POD_UID=uid-1;FOO=a=b;BAR=",
			want:    k8s + ";FOO=a=b;BAR="},
		{name: "k8s keys not duplicated", network: "cluster",
			cniArgs: "K8S_POD_NAME=other;K8S_POD_UID=zzz",
			want:    k8s},
		{name: "delegate MAC/IP requests replace the runtime's", network: "net-c",
			cniArgs: "MAC=00:00:00:00:00:01;IP=1.1.1.1;X=y",
			want:    k8s + ";X=y;MAC=02:00:00:00:00:05;IP=10.9.0.5/24"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forVersions(t, func(t *testing.T, v string) {
				e := newEnv(t, v, clusterNet, netSpec{name: "net-c", typ: "macvlan", ips: []string{"10.9.0.5/24"}, mac: "02:00:00:00:00:05"})
				req := e.req("ADD", "c1")
				req.CNIArgs = tc.cniArgs
				if _, err := e.a.Add(context.Background(), req); err != nil {
					t.Fatal(err)
				}
				call, _ := e.exec.find("ADD", tc.network)
				if call.Args != tc.want {
					t.Errorf("CNI_ARGS = %q\nwant       %q", call.Args, tc.want)
				}
			})
		})
	}
	t.Run("malformed CNI_ARGS is an invalid request", func(t *testing.T) {
		e := newEnv(t, "1.0.0", clusterNet)
		req := e.req("ADD", "c1")
		req.CNIArgs = "FOO"
		_, err := e.a.Add(context.Background(), req)
		if Code(err) != 4 || len(e.exec.callStrings()) != 0 {
			t.Fatalf("err = %v (code %d), calls %v", err, Code(err), e.exec.callStrings())
		}
	})
}

func TestDefaultRoute(t *testing.T) {
	forVersions(t, func(t *testing.T, v string) {
		e := newEnv(t, v, clusterNet, netSpec{name: "net-a", typ: "macvlan", gateways: []string{"10.77.0.1"}})
		res, err := e.a.Add(context.Background(), e.req("ADD", "c1"))
		if err != nil {
			t.Fatal(err)
		}
		wantNet := []string{"eth0 del4=true del6=true gw=[]", "net1 del4=true del6=true gw=[10.77.0.1]"}
		if !reflect.DeepEqual(e.net.routes, wantNet) {
			t.Errorf("netns route edits = %q\nwant %q", e.net.routes, wantNet)
		}
		// The master's result lost its default route.
		for _, r := range res.(*types100.Result).Routes {
			if isDefaultDst(&r.Dst) {
				t.Errorf("master result still has a default route: %v", r)
			}
		}
		// libcni's result caches were edited the same way.
		cases := []struct{ file, want string }{
			{file: "cluster-c1-eth0", want: ""},
			{file: "net-a-c1-net1", want: "0.0.0.0/0 via 10.77.0.1"},
		}
		for _, tc := range cases {
			got := cachedDefaultRoutes(t, filepath.Join(e.cniDir, "results", tc.file))
			if got != tc.want {
				t.Errorf("%s default routes = %q, want %q", tc.file, got, tc.want)
			}
		}
		// network-status reports the new gateway on net1 only.
		for _, s := range e.status.current {
			gw := strings.Join(s.Gateway, ",")
			if (s.Interface == "net1") != (gw == "10.77.0.1") {
				t.Errorf("status %s gateway %q", s.Interface, gw)
			}
		}
	})
}

func cachedDefaultRoutes(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cached struct {
		Result struct {
			Routes []struct{ Dst, GW string } `json:"routes"`
		} `json:"result"`
	}
	if err := json.Unmarshal(data, &cached); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range cached.Result.Routes {
		if strings.HasSuffix(r.Dst, "/0") {
			out = append(out, r.Dst+" via "+r.GW)
		}
	}
	return strings.Join(out, ",")
}

func TestEditResultCacheLegacyVersions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "results", "n-c-eth0")
	legacy := `{"kind":"cniCacheV1","containerId":"c","ifName":"eth0","networkName":"n","result":{"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.2/24","routes":[{"dst":"0.0.0.0/0","gw":"10.0.0.1"},{"dst":"10.1.0.0/16"}]},"ip6":{"ip":"fd00::2/64","routes":[{"dst":"::/0","gw":"fd00::1"}]}}}`
	if err := writeCache(path, []byte(legacy)); err != nil {
		t.Fatal(err)
	}
	p := routePlan{delV4: true, delV6: false}
	if err := editResultCache(dir, "n", "c", "eth0", p); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	var got struct {
		Kind   string `json:"kind"`
		Result struct {
			IP4 struct{ Routes []map[string]string } `json:"ip4"`
			IP6 struct{ Routes []map[string]string } `json:"ip6"`
		} `json:"result"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Kind != "cniCacheV1" || len(got.Result.IP4.Routes) != 1 || got.Result.IP4.Routes[0]["dst"] != "10.1.0.0/16" || len(got.Result.IP6.Routes) != 1 {
		t.Fatalf("edited cache = %s", data)
	}
}
