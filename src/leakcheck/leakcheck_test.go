package leakcheck

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// fakeNode answers each script from a table keyed by a substring of it.
type fakeNode map[string]string

func (f fakeNode) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	script := strings.Join(args, " ")
	for k, v := range f {
		if strings.Contains(script, k) {
			return []byte(v), nil
		}
	}
	return nil, nil
}

func TestCheck(t *testing.T) {
	const id = "c0ffee01"
	before := `[{"ifname":"lo"},{"ifname":"eth0","linkinfo":{"info_kind":"veth"}}]`
	after := `[{"ifname":"lo"},{"ifname":"eth0","linkinfo":{"info_kind":"veth"}},` +
		`{"ifname":"mtbr0","linkinfo":{"info_kind":"bridge"}},{"ifname":"veth12ab","linkinfo":{"info_kind":"veth"}}]`
	node := fakeNode{
		"ip -j -d link show":           before,
		"[ -e '/var/run/netns/pod1' ]": "yes\n",
		"ip -n 'pod1'":                 `[{"ifname":"lo"},{"ifname":"net1","linkinfo":{"info_kind":"macvlan"}}]`,
		"grep -rlF -e 'c0ffee01'":      "/ipam/mtnet/10.99.0.2\n",
		"ls -A '/cache/results'":       "mtnet-c0ffee01-eth0\nmtnet-other-eth0\n",
		"ls -A '/scratch'":             "c0ffee01\n.c0ffee01.tmp123\nc0ffee01.corrupt\nother\n",
		"iptables-save": "*nat\n-A CNI-DN-1 -p tcp -j DNAT --to-destination 10.99.0.2:80\n" +
			"-A CNI-DN-2 -j DNAT --to-destination 10.99.0.20:80\n-A X -s 110.99.0.2/32 -j ACCEPT\nCOMMIT\n",
	}
	c := &Checker{Node: node}
	if err := c.Baseline(context.Background()); err != nil {
		t.Fatal(err)
	}
	node["ip -j -d link show"] = after
	leaks, err := c.Check(context.Background(), Spec{
		ContainerIDs: []string{id}, PodNetns: []string{"/var/run/netns/pod1"}, PodIPs: []string{"10.99.0.2"},
		IPAMDirs: []string{"/ipam"}, CacheDirs: []string{"/cache"}, ScratchDirs: []string{"/scratch"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"host-link: veth12ab (veth)",
		"iptables: -A CNI-DN-1 -p tcp -j DNAT --to-destination 10.99.0.2:80",
		"lease: /ipam/mtnet/10.99.0.2",
		"pod-link: /var/run/netns/pod1 net1",
		"result-cache: /cache/results/mtnet-c0ffee01-eth0",
		"scratch: /scratch/.c0ffee01.tmp123",
		"scratch: /scratch/c0ffee01",
		"scratch: /scratch/c0ffee01.corrupt",
	}
	var got []string
	for _, l := range leaks {
		got = append(got, l.String())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("leaks =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCheckClean(t *testing.T) {
	node := fakeNode{"ip -j -d link show": `[{"ifname":"lo"}]`, "iptables-save": "*nat\nCOMMIT\n"}
	c := &Checker{Node: node}
	if err := c.Baseline(context.Background()); err != nil {
		t.Fatal(err)
	}
	leaks, err := c.Check(context.Background(), Spec{ContainerIDs: []string{"x"}, PodNetns: []string{"/run/netns/gone"},
		PodIPs: []string{"10.0.0.1"}, IPAMDirs: []string{"/i"}, CacheDirs: []string{"/c"}, ScratchDirs: []string{"/s"}})
	if err != nil || leaks != nil {
		t.Errorf("leaks %v, err %v", leaks, err)
	}
	if _, err := c.Check(context.Background(), Spec{PodNetns: []string{"/tmp/ns"}}); err == nil {
		t.Error("a netns path outside /var/run/netns was accepted")
	}
}
