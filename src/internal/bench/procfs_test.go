package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

const statusSample = `Name:	multus-daemon
Umask:	0022
State:	S (sleeping)
Pid:	4242
VmPeak:	 1265432 kB
VmSize:	 1265432 kB
VmHWM:	   31544 kB
VmRSS:	   23480 kB
RssAnon:	   11000 kB
RssFile:	   12400 kB
RssShmem:	       0 kB
Threads:	9
`

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    ProcStatus
		wantErr bool
	}{
		{name: "daemon status", in: statusSample, want: ProcStatus{RSSKiB: 23480, HWMKiB: 31544, AnonKiB: 11000, FileKiB: 12400}},
		{name: "kernel thread has no VmRSS", in: "Name:\tkthreadd\nState:\tS (sleeping)\n", wantErr: true},
		{name: "bad unit", in: "VmRSS:\t12 MB\n", wantErr: true},
		{name: "bad number", in: "VmRSS:\tx kB\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStatus([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	// Fields after comm: state ppid pgrp session tty tpgid flags minflt
	// cminflt majflt cmajflt utime stime cutime cstime priority nice
	// num_threads itrealvalue starttime vsize rss ...
	tail := " S 77 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 12345 1000000 321 18446744073709551615"
	tests := []struct {
		name    string
		in      string
		want    StatLine
		wantErr bool
	}{
		{name: "plain comm", in: "4243 (bridge)" + tail, want: StatLine{PID: 4243, Comm: "bridge", PPID: 77, RSSPages: 321, CPUTicks: 3}},
		{name: "comm with spaces and parens", in: "9 (a) b (c)" + tail, want: StatLine{PID: 9, Comm: "a) b (c", PPID: 77, RSSPages: 321, CPUTicks: 3}},
		{name: "reaped children's CPU", in: "5 (multus-daemon) S 1 5 5 0 -1 0 0 0 0 0 40 10 700 55 20 0 9 0 1 1 2048 0", want: StatLine{PID: 5, Comm: "multus-daemon", PPID: 1, RSSPages: 2048, CPUTicks: 50, ChildCPUTicks: 755}},
		{name: "truncated", in: "9 (x) S 1 2", wantErr: true},
		{name: "no comm", in: "9 x S 1", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSnapshotAndSubtreeRSS(t *testing.T) {
	// A fake /proc: 1 (init) -> 10 (harness) -> 20 (daemon) -> 30 (bridge) -> 31 (host-local)
	//                                        -> 21 (etcd, excluded)
	//                                        -> 22 (shim)
	root := t.TempDir()
	procs := []struct{ pid, ppid, rss int }{
		{1, 0, 100}, {10, 1, 1000}, {20, 10, 5000}, {30, 20, 300}, {31, 30, 200}, {21, 10, 9000}, {22, 10, 400},
	}
	for _, p := range procs {
		dir := filepath.Join(root, strconv.Itoa(p.pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		line := strconv.Itoa(p.pid) + " (p) S " + strconv.Itoa(p.ppid) + " 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 0 0 " + strconv.Itoa(p.rss) + " 0"
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Not a process directory: must be ignored.
	if err := os.MkdirAll(filepath.Join(root, "sys"), 0o755); err != nil {
		t.Fatal(err)
	}
	pfs := ProcFS{Root: root, PageSize: 4096}
	snap, err := pfs.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(snap) != len(procs) {
		t.Fatalf("snapshot has %d processes, want %d", len(snap), len(procs))
	}
	tests := []struct {
		name      string
		root      int
		exclude   map[int]bool
		wantKiB   int64
		wantCount int
	}{
		{name: "daemon's delegates", root: 20, wantKiB: (300 + 200) * 4, wantCount: 2},
		{name: "harness children minus baseline", root: 10, exclude: map[int]bool{20: true, 21: true}, wantKiB: 400 * 4, wantCount: 1},
		{name: "leaf has none", root: 31, wantKiB: 0, wantCount: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kib, n := SubtreeRSS(snap, tc.root, tc.exclude, pfs.PageSize)
			if kib != tc.wantKiB || n != tc.wantCount {
				t.Fatalf("SubtreeRSS = %d KiB / %d procs, want %d / %d", kib, n, tc.wantKiB, tc.wantCount)
			}
		})
	}
}

func TestParseTimeRSS(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int64
		wantErr bool
	}{
		{name: "plain", in: "5120\n", want: 5120},
		{name: "after a failing command", in: "Command exited with non-zero status 1\n7300\n", want: 7300},
		{name: "garbage", in: "oops\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTimeRSS([]byte(tc.in))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("ParseTimeRSS(%q) = %d, %v; want %d, err %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestCPUSnapSince(t *testing.T) {
	before := cpuSnap{daemon: 100, daemonChildren: 1000, harness: 7, harnessChildren: 50, controlPlane: 5000}
	after := cpuSnap{daemon: 120, daemonChildren: 1400, harness: 9, harnessChildren: 60, controlPlane: 5060}
	got := after.since(before, 10, true)
	want := CPUCost{Ops: 10, Daemon: 20, Delegates: 400, Shim: 10, ControlPlane: 60, Caller: 2}
	if got != want {
		t.Fatalf("subject: got %+v, want %+v", got, want)
	}
	// For the floor the harness's reaped children are the plugins themselves.
	got = after.since(before, 10, false)
	want = CPUCost{Ops: 10, Delegates: 10, ControlPlane: 60, Caller: 2}
	if got != want {
		t.Fatalf("floor: got %+v, want %+v", got, want)
	}
	if got := after.since(before, 0, true); got != (CPUCost{}) {
		t.Fatalf("no ops: got %+v", got)
	}
}
