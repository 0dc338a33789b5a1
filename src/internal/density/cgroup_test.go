package density

import (
	"strings"
	"testing"
)

func TestParseProcCgroup(t *testing.T) {
	v1 := `12:memory:/kubelet.slice/pod.slice/cri-containerd-abc.scope
2:cpuacct:/kubelet.slice/pod.slice/cri-containerd-abc.scope
1:cpu,cpuacct:/ignored-when-later-listed
0::/kubelet.slice/pod.slice/cri-containerd-abc.scope
`
	tests := []struct {
		name    string
		in      string
		want    cgroupRef
		wantErr bool
	}{
		{name: "v1 hybrid", in: "4:memory:/m\n2:cpu,cpuacct:/c\n0::/u\n", want: cgroupRef{cpuacct: "/c", memory: "/m"}},
		{name: "v1 separate controllers", in: v1, want: cgroupRef{cpuacct: "/ignored-when-later-listed", memory: "/kubelet.slice/pod.slice/cri-containerd-abc.scope"}},
		{name: "v2", in: "0::/kubelet.slice/x.scope\n", want: cgroupRef{v2: true, cpuacct: "/kubelet.slice/x.scope"}},
		{name: "garbage", in: "no such process\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcCgroup([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestUsageScriptsNameTheControllers(t *testing.T) {
	v1 := cgroupRef{cpuacct: "/c", memory: "/m"}
	if s := v1.usageScript(); !strings.Contains(s, "'/sys/fs/cgroup/cpuacct/c/cpuacct.usage'") || !strings.Contains(s, "'/sys/fs/cgroup/memory/m/memory.max_usage_in_bytes'") {
		t.Errorf("v1 usage script = %s", s)
	}
	if s := v1.resetPeakScript(); s != "echo 0 > '/sys/fs/cgroup/memory/m/memory.max_usage_in_bytes'" {
		t.Errorf("v1 reset script = %s", s)
	}
	if s := (cgroupRef{v2: true, cpuacct: "/u"}).usageScript(); !strings.Contains(s, "'/sys/fs/cgroup/u'/cpu.stat") {
		t.Errorf("v2 usage script = %s", s)
	}
}

func TestParseUsage(t *testing.T) {
	got, err := parseUsage([]byte("1500000000 52428800\n"))
	if err != nil || got != (usage{cpuNS: 1_500_000_000, peakBytes: 50 << 20}) {
		t.Fatalf("parseUsage = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "1", "x 2", "1 y", "1 2 3"} {
		if _, err := parseUsage([]byte(bad)); err == nil {
			t.Errorf("parseUsage(%q) accepted", bad)
		}
	}
}

func TestShortNode(t *testing.T) {
	all := []string{"mt-lab-control-plane", "mt-lab-worker", "mt-lab-worker2"}
	for in, want := range map[string]string{"mt-lab-worker": "worker", "mt-lab-worker2": "worker2", "mt-lab-control-plane": "control-plane"} {
		if got := shortNode(in, all); got != want {
			t.Errorf("shortNode(%s) = %s, want %s", in, got, want)
		}
	}
}
