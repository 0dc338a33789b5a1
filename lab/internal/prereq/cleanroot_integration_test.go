//go:build integration

package prereq

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multus-thick/multus-thick/lab/internal/bake"
)

// TestPreflightOnACleanRoot proves the README's promise on a machine that has nothing of ours:
// a fresh Debian bookworm minbase root (debootstrap) with Go and the docker CLI added runs the
// preflight, which must install every package and then find every command. A chroot shares the
// host's network, so apt reaches Debian's packages as on a new machine; a container would sit
// behind the egress guard.
func TestPreflightOnACleanRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (debootstrap, chroot, mounts)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	root := repoRoot(t)
	tarball := cleanRootTarball(ctx, t)

	dir, err := os.MkdirTemp("", "mt-clean-root-")
	if err != nil {
		t.Fatal(err)
	}
	chroot := filepath.Join(dir, "root")
	mustRun(ctx, t, "mkdir", "-p", chroot)
	mustRun(ctx, t, "tar", "-C", chroot, "--numeric-owner", "-xf", tarball)

	// Go (read-only bind mount) and the docker CLI: what a machine of the project's kind brings.
	goroot := filepath.Dir(filepath.Dir(goBinary(t)))
	mounts := []string{}
	t.Cleanup(func() { cleanupRoot(t, dir, chroot, mounts) })
	bindReadOnly(t, goroot, filepath.Join(chroot, "usr/local/go"))
	mounts = append(mounts, filepath.Join(chroot, "usr/local/go"))
	if docker, err := exec.LookPath("docker"); err == nil {
		mustRun(ctx, t, "cp", docker, filepath.Join(chroot, "usr/local/bin/docker"))
	}
	proc := filepath.Join(chroot, "proc")
	if err := syscall.Mount("proc", proc, "proc", 0, ""); err != nil {
		t.Fatalf("mount proc: %v", err)
	}
	mounts = append(mounts, proc)
	// The downloaded .debs are kept by version in the cache (apt names them so): every run still
	// runs apt-get update and installs every package into the clean root, without fetching the
	// same files again.
	debs := filepath.Join(filepath.Dir(tarball), "apt-archives")
	if err := os.MkdirAll(filepath.Join(debs, "partial"), 0o755); err != nil {
		t.Fatal(err)
	}
	bind(t, debs, filepath.Join(chroot, "var/cache/apt/archives"))
	mounts = append(mounts, filepath.Join(chroot, "var/cache/apt/archives"))
	mustRun(ctx, t, "cp", "/etc/resolv.conf", filepath.Join(chroot, "etc/resolv.conf"))
	// No package may start a service inside the chroot (docker.io would start a second dockerd).
	policy := filepath.Join(chroot, "usr/sbin/policy-rc.d")
	if err := os.WriteFile(policy, []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The root is thrown away after the test: dpkg need not fsync every file it unpacks.
	unsafeIO := filepath.Join(chroot, "etc/dpkg/dpkg.cfg.d/mt-unsafe-io")
	if err := os.WriteFile(unsafeIO, []byte("force-unsafe-io\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(chroot, "preflight"), "./lab/cmd/preflight")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build preflight: %v\n%s", err, out)
	}

	install := inRoot(ctx, t, chroot)
	t.Logf("preflight in a clean root:\n%s", install)
	for _, want := range []string{"preflight: missing ", "preflight: installing with apt: ", "preflight: installed "} {
		if !strings.Contains(install, want) {
			t.Errorf("preflight output lacks %q", want)
		}
	}
	check := inRoot(ctx, t, chroot, "-check")
	t.Logf("second run:\n%s", check)
	if !strings.Contains(check, "host prerequisites present") {
		t.Errorf("after the install, preflight -check says %q", check)
	}
}

// inRoot runs the preflight inside the chroot and returns its stdout; it fails the test when
// the preflight fails.
func inRoot(ctx context.Context, t *testing.T, chroot string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "chroot", append([]string{chroot, "/preflight"}, args...)...)
	cmd.Env = []string{
		"PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "LANG=C.UTF-8",
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("preflight %v in the clean root: %v\nstdout:\n%s\nstderr (tail):\n%s", args, err, stdout.String(), tail(stderr.String(), 30))
	}
	return stdout.String()
}

// cleanRootTarball returns a debootstrap minbase root of Debian bookworm, made once and cached
// in $MT_CACHE: each test extracts a fresh copy, so every run starts from the same clean state.
func cleanRootTarball(ctx context.Context, t *testing.T) string {
	t.Helper()
	cache := os.Getenv("MT_CACHE")
	if cache == "" {
		cache = "/var/cache/multus-thick"
	}
	tarball := filepath.Join(cache, "clean-root", "bookworm-minbase.tar")
	if _, err := os.Stat(tarball); err == nil {
		return tarball
	}
	mirror, err := bake.MirrorFromAptSources("/etc/apt/sources.list.d/debian.sources")
	if err != nil {
		if mirror, err = bake.MirrorFromAptSources("/etc/apt/sources.list"); err != nil {
			t.Fatalf("no Debian mirror in the host's apt sources: %v", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(tarball), 0o755); err != nil {
		t.Fatal(err)
	}
	work, err := os.MkdirTemp(filepath.Dir(tarball), "work-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(work)
	mustRun(ctx, t, "debootstrap", "--variant=minbase", "bookworm", work, mirror)
	tmp := tarball + ".tmp"
	mustRun(ctx, t, "tar", "-C", work, "--numeric-owner", "-cf", tmp, ".")
	if err := os.Rename(tmp, tarball); err != nil {
		t.Fatal(err)
	}
	return tarball
}

func bind(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(src, dst, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s: %v", src, err)
	}
}

func bindReadOnly(t *testing.T, src, dst string) {
	t.Helper()
	bind(t, src, dst)
	if err := syscall.Mount("", dst, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		_ = syscall.Unmount(dst, 0)
		t.Fatalf("remount %s read-only: %v", dst, err)
	}
}

// cleanupRoot unmounts what the test mounted and removes the root only when nothing is mounted
// below it any more: removing a tree with a live bind mount would delete the host's files.
func cleanupRoot(t *testing.T, dir, chroot string, mounts []string) {
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := syscall.Unmount(mounts[i], syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mounts[i], err)
		}
	}
	if still := mountsBelow(t, chroot); len(still) > 0 {
		t.Errorf("not removing %s: still mounted below it: %v", dir, still)
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Errorf("remove %s: %v", dir, err)
	}
}

func mountsBelow(t *testing.T, dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Errorf("read mountinfo: %v", err)
		return []string{"unknown"}
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			out = append(out, fields[4])
		}
	}
	return out
}

func goBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go: %v", err)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return real
}

func mustRun(ctx context.Context, t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(string(out), 20))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
