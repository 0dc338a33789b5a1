// Package prereq declares every program the project executes on the host, once, and makes a
// machine have them: a preflight that runs before any build, checks the whole list in
// milliseconds and installs what is missing with one `apt-get update` and one `apt-get install`.
//
// A fresh Debian bookworm machine of the project's kind brings only Go, git, make and a docker
// CLI. Everything else the lab, the Makefile and the test tiers run is named here; a unit test
// (exec_sites_test.go) finds every exec site in lab/, src/, scenarios/ and the Makefile and fails
// when one runs a program this table does not declare.
package prereq

// Package is one Debian package and what the project uses from it on the host.
type Package struct {
	Name string
	// Commands are looked up in PATH.
	Commands []string
	// Files are absolute paths that must exist: programs run by path, headers, certificates.
	Files []string
	// Why names who needs it, for the preflight's messages.
	Why string
}

// Toolchain is a program the machine must bring itself: apt cannot install a usable one
// (Debian bookworm's Go is older than go.mod's).
type Toolchain struct {
	Command string
	Why     string
}

// Packages is the host prerequisites table. Keep it sorted by package name.
var Packages = []Package{
	{Name: "busybox-static", Files: []string{"/bin/busybox"}, Why: "the test pod and flannel images (a static busybox)"},
	{Name: "ca-certificates", Files: []string{"/etc/ssl/certs/ca-certificates.crt"}, Why: "Go module downloads over TLS"},
	{Name: "coreutils", Commands: []string{"chroot", "ln", "mkdir", "touch", "tee", "cat", "rm", "cp", "mv", "ls"}, Why: "the Makefile; the node-image bake runs tools inside its rootfs"},
	{Name: "dash", Commands: []string{"sh"}, Why: "tests that run shell snippets"},
	{Name: "debootstrap", Commands: []string{"debootstrap"}, Why: "the node-image bake (Debian rootfs) and the clean-root check"},
	{Name: "docker.io", Commands: []string{"dockerd", "docker", "containerd", "runc"}, Why: "the kind lab's container engine"},
	{Name: "etcd-server", Commands: []string{"etcd"}, Why: "envtest's etcd in the integration tier and the benchmark"},
	{Name: "gcc", Commands: []string{"cc"}, Why: "the pause binary of the node image (static C build)"},
	{Name: "git", Commands: []string{"git"}, Why: "the Makefile's version stamp"},
	{Name: "grep", Commands: []string{"grep"}, Why: "the Makefile's lab and manifest checks"},
	{Name: "iproute2", Commands: []string{"ip"}, Why: "the egress guard (default route), the netns tier and the benchmark"},
	{Name: "iptables", Commands: []string{"iptables", "iptables-save"}, Why: "the egress guard, the netns tier's portmap checks and the leak checker"},
	{Name: "jq", Commands: []string{"jq"}, Why: "the node-image bake (containerd's base spec)"},
	{Name: "libc6-dev", Files: []string{"/usr/include/stdio.h"}, Why: "the static pause build"},
	{Name: "make", Commands: []string{"make"}, Why: "the project's front door; the lab calls make build and make plugins"},
	{Name: "mawk", Commands: []string{"awk"}, Why: "make help"},
	{Name: "tar", Commands: []string{"tar"}, Why: "the node-image bake (rootfs tarballs)"},
	{Name: "time", Commands: []string{"time"}, Files: []string{"/usr/bin/time"}, Why: "peak RSS of short processes in the benchmark and the shim's bench test"},
}

// Toolchains are checked, never installed.
var Toolchains = []Toolchain{
	{Command: "go", Why: "every build; install Go (go.mod's version) under /usr/local/go"},
	{Command: "gofmt", Why: "make verify; it ships with Go"},
}

// Declared reports whether the table names program, by command name or by absolute path.
func Declared(program string) bool {
	for _, t := range Toolchains {
		if t.Command == program {
			return true
		}
	}
	for _, p := range Packages {
		for _, c := range p.Commands {
			if c == program {
				return true
			}
		}
		for _, f := range p.Files {
			if f == program {
				return true
			}
		}
	}
	return false
}
