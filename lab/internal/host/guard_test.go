package host

import (
	"reflect"
	"testing"
)

func TestSumGuardPackets(t *testing.T) {
	t.Parallel()
	listing := `Chain DOCKER-USER (1 references)
    pkts      bytes target     prot opt in     out     source               destination
      22     1320 REJECT     all  --  mt-kind0 !mt-kind0  0.0.0.0/0            0.0.0.0/0            /* mt-lab-guard */ reject-with icmp-port-unreachable
       3      180 REJECT     all  --  *      eth0    0.0.0.0/0            0.0.0.0/0            /* mt-lab-guard */ reject-with icmp-port-unreachable
       7      400 REJECT     all  --  *      eth0    0.0.0.0/0            0.0.0.0/0            reject-with icmp-port-unreachable
     100     9000 RETURN     all  --  *      *       0.0.0.0/0            0.0.0.0/0
`
	got, err := sumGuardPackets(listing)
	if err != nil {
		t.Fatal(err)
	}
	if got != 25 {
		t.Errorf("sum = %d, want 25 (only the guard's rules)", got)
	}
}

func TestDeleteArgs(t *testing.T) {
	t.Parallel()
	rules := `-N DOCKER-USER
-A DOCKER-USER -i mt-kind0 ! -o mt-kind0 -m comment --comment mt-lab-guard -j REJECT --reject-with icmp-port-unreachable
-A DOCKER-USER -o eth0 -j REJECT --reject-with icmp-port-unreachable
-A DOCKER-USER -o eth0 -m comment --comment "mt-lab-guard" -j REJECT --reject-with icmp-port-unreachable
-A DOCKER-USER -j RETURN
`
	want := [][]string{
		{"-D", "DOCKER-USER", "-i", "mt-kind0", "!", "-o", "mt-kind0", "-m", "comment", "--comment", "mt-lab-guard", "-j", "REJECT", "--reject-with", "icmp-port-unreachable"},
		{"-D", "DOCKER-USER", "-o", "eth0", "-m", "comment", "--comment", "mt-lab-guard", "-j", "REJECT", "--reject-with", "icmp-port-unreachable"},
	}
	if got := deleteArgs(rules); !reflect.DeepEqual(got, want) {
		t.Errorf("deleteArgs =\n%q\nwant\n%q", got, want)
	}
}

func TestGuardRules(t *testing.T) {
	t.Parallel()
	got := guardRules("mt-kind0", []string{"eth0"})
	want := [][]string{
		{"DOCKER-USER", "-i", "mt-kind0", "!", "-o", "mt-kind0", "-m", "comment", "--comment", GuardComment, "-j", "REJECT"},
		{"DOCKER-USER", "-o", "eth0", "-m", "comment", "--comment", GuardComment, "-j", "REJECT"},
		{"FORWARD", "-o", "eth0", "-m", "comment", "--comment", GuardComment, "-j", "REJECT"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("guardRules = %q, want %q", got, want)
	}
}

func TestParseUplinks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"one", `[{"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]}]`, []string{"eth0"}},
		{"two, deduplicated", `[{"dst":"default","dev":"eth0"},{"dst":"default","dev":"wlan0"},{"dst":"default","dev":"eth0","metric":200}]`, []string{"eth0", "wlan0"}},
		{"none", `[]`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseUplinks([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBoundingSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   string
		wantNeed bool
		wantErr  bool
	}{
		{"lacks sys_resource", "Name:\tx\nCapBnd:\t000001fffeffffff\n", true, false},
		{"full set", "CapBnd:\t000001ffffffffff\n", false, false},
		{"missing line", "Name:\tx\n", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bnd, err := boundingSet(tc.status)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && (bnd&(1<<capSysResource) == 0) != tc.wantNeed {
				t.Errorf("CapBnd %x: need wrapper = %v, want %v", bnd, !tc.wantNeed, tc.wantNeed)
			}
		})
	}
}

func TestGuardOnTop(t *testing.T) {
	t.Parallel()
	const ours = "-A FORWARD -o eth0 -m comment --comment mt-lab-guard -j REJECT --reject-with icmp-port-unreachable\n"
	const tool = "-A FORWARD -o eth0 -j REJECT --reject-with icmp-port-unreachable\n"
	const jump = "-A FORWARD -j DOCKER-USER\n"
	tests := []struct {
		name    string
		listing string
		n       int
		want    bool
	}{
		{"ours first", "-P FORWARD DROP\n" + ours + jump, 1, true},
		{"tool inserted above", "-P FORWARD DROP\n" + tool + ours + jump, 1, false},
		{"docker jump above", "-P FORWARD DROP\n" + jump + ours, 1, false},
		{"missing", "-P FORWARD DROP\n" + jump, 1, false},
		{"empty chain", "-N DOCKER-USER\n", 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := guardOnTop(tc.listing, tc.n); got != tc.want {
				t.Errorf("guardOnTop = %v, want %v", got, tc.want)
			}
		})
	}
}
