package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/multus-thick/multus-thick/src/internal/testutil/fakedaemon"
)

// shimBinary returns $MT_BIN/multus-shim (what `make build` produced, so the
// figures are the shipped binary's), or builds one for the benchmark.
func shimBinary(b *testing.B) string {
	b.Helper()
	if dir := os.Getenv("MT_BIN"); dir != "" {
		return filepath.Join(dir, "multus-shim")
	}
	bin := filepath.Join(b.TempDir(), "multus-shim")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// runShim runs the binary b.N times and reports the peak RSS of the
// largest run next to the wall time per run.
//
// The RSS comes from /usr/bin/time, not from our own wait4: Go starts
// children with vfork, and Linux then charges the parent's (the test
// binary's) resident set to the child's maxrss at exec. time(1) forks.
func runShim(b *testing.B, bin string, env []string, stdin string) {
	b.Helper()
	timeBin, err := exec.LookPath("time")
	if err != nil {
		timeBin = "/usr/bin/time"
	}
	rssFile := filepath.Join(b.TempDir(), "rss")
	var peakKiB int64
	b.ResetTimer()
	for range b.N {
		cmd := exec.Command(timeBin, "-f", "%M", "-o", rssFile, bin)
		cmd.Env = env
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.Output(); err != nil {
			b.Fatalf("shim: %v: %s", err, out)
		}
		b.StopTimer()
		raw, err := os.ReadFile(rssFile)
		if err != nil {
			b.Fatal(err)
		}
		kib, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		if err != nil {
			b.Fatalf("time -f %%M wrote %q", raw)
		}
		peakKiB = max(peakKiB, kib)
		b.StartTimer()
	}
	b.ReportMetric(float64(peakKiB)/1024, "peak-MiB")
}

func BenchmarkShimVersion(b *testing.B) {
	bin := shimBinary(b)
	runShim(b, bin, []string{"CNI_COMMAND=VERSION"}, `{"cniVersion":"1.0.0"}`)
	if st, err := os.Stat(bin); err == nil {
		b.ReportMetric(float64(st.Size())/(1<<20), "binary-MiB")
	}
}

// DEL of an unknown container against a daemon that answers at once: the
// shim's own cost on the path every pod deletion takes.
func BenchmarkShimDelUnknownContainer(b *testing.B) {
	bin := shimBinary(b)
	d := fakedaemon.Start(b)
	env := []string{"CNI_COMMAND=DEL", "CNI_CONTAINERID=unknown", "CNI_IFNAME=eth0", "CNI_NETNS=", "CNI_ARGS=K8S_POD_NAMESPACE=x;K8S_POD_NAME=y"}
	runShim(b, bin, env, `{"cniVersion":"1.0.0","name":"multus-cni-network","type":"multus-shim","daemonSocketDir":"`+d.Dir+`"}`)
}
