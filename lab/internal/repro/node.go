package repro

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Where things live on a node.
const (
	cniBinDir    = "/opt/cni/bin"
	installedDir = "/var/lib/mt-repro/installed" // <type> holds the sha256 of a PLUGIN repro installed
	replayRoot   = "/var/lib/mt-repro"
)

// Nodes runs programs inside the lab's node containers (a kind node's container is named
// after its Kubernetes node). stdin may be nil; stdout receives the program's stdout; a
// non-zero exit is an error carrying stderr.
type Nodes interface {
	Exec(ctx context.Context, node string, stdin io.Reader, stdout io.Writer, argv ...string) error
}

// DockerNodes reaches the nodes with docker exec.
type DockerNodes struct{}

var _ Nodes = DockerNodes{}

// Exec implements Nodes.
func (DockerNodes) Exec(ctx context.Context, node string, stdin io.Reader, stdout io.Writer, argv ...string) error {
	args := []string{"exec"}
	if stdin != nil {
		args = append(args, "-i")
	}
	args = append(append(args, node), argv...)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, &stderr
	if cmd.Stdout == nil {
		cmd.Stdout = io.Discard
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("node %s: %s: %w: %s", node, truncate(strings.Join(argv, " "), 120), err, lastLines(stderr.String(), 4))
	}
	return nil
}

// sh runs a shell script on node with args as $1...; it returns stdout.
func sh(ctx context.Context, n Nodes, node string, stdin io.Reader, script string, args ...string) (string, error) {
	var out bytes.Buffer
	err := n.Exec(ctx, node, stdin, &out, append([]string{"sh", "-c", script, "sh"}, args...)...)
	return out.String(), err
}

// installScript writes stdin to $1/$2 through a temporary name and a rename, so nothing
// running the plugin meanwhile sees it half written.
const installScript = `set -eu
t="$1/.$2.mt-repro-tmp"
cat > "$t"; chmod 0755 "$t"; mv -f "$t" "$1/$2"`

func installFile(ctx context.Context, n Nodes, node, dir, name string, data []byte) error {
	if _, err := sh(ctx, n, node, bytes.NewReader(data), installScript, dir, name); err != nil {
		return fmt.Errorf("install %s/%s: %w", dir, name, err)
	}
	return nil
}

// pluginOnNode reports what node has at /opt/cni/bin/<typ>: its sha256 ("" when missing)
// and the sha256 repro recorded when it installed it there ("" when it did not).
func pluginOnNode(ctx context.Context, n Nodes, node, typ string) (sum, installed string, err error) {
	out, err := sh(ctx, n, node, nil, `f="$1/$2"; m="$3/$2"
if [ -e "$f" ]; then sha256sum "$f" | cut -d' ' -f1; else echo -; fi
if [ -e "$m" ]; then cat "$m"; else echo -; fi`, cniBinDir, typ, installedDir)
	if err != nil {
		return "", "", err
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return "", "", fmt.Errorf("node %s: unexpected answer %q", node, out)
	}
	return strings.Trim(f[0], "-"), strings.Trim(f[1], "-"), nil
}

// executableOnNode reports whether path is an executable file on node.
func executableOnNode(ctx context.Context, n Nodes, node, p string) (bool, error) {
	out, err := sh(ctx, n, node, nil, `if [ -f "$1" ] && [ -x "$1" ]; then echo yes; else echo no; fi`, p)
	return strings.TrimSpace(out) == "yes", err
}

// State is what a node holds that a delegate may leak: links in the node's own netns,
// network namespaces, host-local leases and the daemon's and libcni's cache files.
//
// TODO(issue 11): switch to the shared leak checker under src/internal/testutil once it
// lands (it has to be importable from lab/, i.e. not under src/internal, or be mirrored).
type State struct {
	Links []string `json:"links"`
	// Bridges are not leaks: the bridge plugin (the cluster network's cni0 too) creates
	// its bridge on a node's first pod of that network and never removes it, by design,
	// since every later pod shares it. So the first pod on a fresh worker adds one.
	Bridges []string `json:"bridges,omitempty"`
	Netns   []string `json:"netns"`
	Leases  []string `json:"leases"` // "<network>/<ip> <container ID>"
	Files   []string `json:"files"`
}

// stateScript prints one "<kind> <value>" line per item of a State (a bridge as
// "bridge", see State.Bridges).
const stateScript = `ip -o link show | while read -r _ name _; do n=${name%:}; n=${n%%@*}
  if [ -d "/sys/class/net/$n/bridge" ]; then echo "bridge $n"; else echo "link $n"; fi; done
for n in /var/run/netns/*; do [ -e "$n" ] && echo "netns ${n##*/}"; done
for d in /var/lib/cni/networks/*/; do [ -d "$d" ] || continue; net=${d%/}; net=${net##*/}
  for f in "$d"*; do b=${f##*/}; case "$b" in lock|last_reserved_ip*|'*') continue;; esac
    [ -f "$f" ] && echo "lease $net/$b $(head -n1 "$f" | tr -d '\r')"; done; done
for d in /var/lib/cni/multus /var/lib/cni/results; do [ -d "$d" ] && find "$d" -type f | sed 's/^/file /'; done
true`

// Snapshot reads node's State.
func Snapshot(ctx context.Context, n Nodes, node string) (State, error) {
	out, err := sh(ctx, n, node, nil, stateScript)
	if err != nil {
		return State{}, fmt.Errorf("node state: %w", err)
	}
	return parseState(out), nil
}

func parseState(out string) State {
	var s State
	for _, l := range strings.Split(out, "\n") {
		kind, v, ok := strings.Cut(strings.TrimSpace(l), " ")
		if !ok || v == "" {
			continue
		}
		switch kind {
		case "link":
			s.Links = append(s.Links, v)
		case "bridge":
			s.Bridges = append(s.Bridges, v)
		case "netns":
			s.Netns = append(s.Netns, v)
		case "lease":
			s.Leases = append(s.Leases, v)
		case "file":
			s.Files = append(s.Files, v)
		}
	}
	for _, l := range [][]string{s.Links, s.Bridges, s.Netns, s.Leases, s.Files} {
		sort.Strings(l)
	}
	return s
}

// Leftovers lists what after holds and before did not: leases and cache files of the
// given container IDs, and any new link or network namespace (the repro is the only
// thing making pods on the node while it holds the lab lock).
func Leftovers(before, after State, ids []string) []string {
	var out []string
	add := func(kind string, was, is []string, keep func(string) bool) {
		old := map[string]bool{}
		for _, v := range was {
			old[v] = true
		}
		for _, v := range is {
			if !old[v] && keep(v) {
				out = append(out, kind+" "+v)
			}
		}
	}
	ours := func(v string) bool {
		for _, id := range ids {
			if strings.Contains(v, id) {
				return true
			}
		}
		return false
	}
	all := func(string) bool { return true }
	add("link", before.Links, after.Links, all)
	add("netns", before.Netns, after.Netns, all)
	add("lease", before.Leases, after.Leases, ours)
	add("file", before.Files, after.Files, ours)
	return out
}

// callsProgress is how far the recorder's calls for namespace are on node: how many were
// recorded, how many have no exit yet, and how many recorder processes run.
func callsProgress(ctx context.Context, n Nodes, node, namespace string) (total, pending, running int, err error) {
	out, err := sh(ctx, n, node, nil, `d="$1/$2"; t=0; p=0
if [ -d "$d" ]; then for c in "$d"/*/; do [ -d "$c" ] || continue; t=$((t+1)); [ -e "$c/exit.json" ] || p=$((p+1)); done; fi
r=$(grep -las "^$3/mt-repro-" /proc/[0-9]*/cmdline | wc -l)
echo "$t $p $r"`, recordRoot, namespace, cniBinDir)
	if err != nil {
		return 0, 0, 0, err
	}
	var v [3]int
	f := strings.Fields(out)
	if len(f) != 3 {
		return 0, 0, 0, fmt.Errorf("node %s: unexpected answer %q", node, out)
	}
	for i := range v {
		if v[i], err = strconv.Atoi(f[i]); err != nil {
			return 0, 0, 0, fmt.Errorf("node %s: unexpected answer %q", node, out)
		}
	}
	return v[0], v[1], v[2], nil
}

// fetchCalls copies node's record directory for namespace into dest.
func fetchCalls(ctx context.Context, n Nodes, node, namespace, dest string) error {
	var buf bytes.Buffer
	err := n.Exec(ctx, node, nil, &buf, "sh", "-c", `d="$1/$2"; [ -d "$d" ] || exit 0; tar -C "$d" -cf - .`, "sh", recordRoot, namespace)
	if err != nil {
		return fmt.Errorf("fetch calls: %w", err)
	}
	if buf.Len() == 0 {
		return nil
	}
	return untar(&buf, dest)
}

// untar unpacks regular files and directories of r under dest, refusing paths that leave it.
func untar(r io.Reader, dest string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("untar: %w", err)
		}
		name := path.Clean(h.Name)
		if name == "." {
			continue
		}
		if path.IsAbs(name) || strings.HasPrefix(name, "../") {
			return fmt.Errorf("untar: %q leaves the destination", h.Name)
		}
		p := filepath.Join(dest, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, io.LimitReader(tr, 256<<20))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("untar %s: %w", name, err)
			}
		}
	}
}

// kubeletLines returns the kubelet journal lines on node since unix time since that
// mention any of needles.
func kubeletLines(ctx context.Context, n Nodes, node string, since int64, needles []string) ([]string, error) {
	var buf bytes.Buffer
	err := n.Exec(ctx, node, nil, &buf, "journalctl", "-u", "kubelet", "--no-pager", "-o", "short-iso-precise", "--since", "@"+strconv.FormatInt(since, 10))
	if err != nil {
		return nil, fmt.Errorf("kubelet journal: %w", err)
	}
	return grepLines(buf.String(), needles), nil
}

// grepLines keeps the lines of s that contain any of needles.
func grepLines(s string, needles []string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, nd := range needles {
			if nd != "" && strings.Contains(l, nd) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

// nodeArch maps `uname -m` to GOARCH (replay does without the Kubernetes API).
func nodeArch(ctx context.Context, n Nodes, node string) (string, error) {
	out, err := sh(ctx, n, node, nil, "uname -m")
	if err != nil {
		return "", err
	}
	m := strings.TrimSpace(out)
	arch := map[string]string{"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}[m]
	if arch == "" {
		return "", fmt.Errorf("node %s: unknown machine %q", node, m)
	}
	return arch, nil
}
