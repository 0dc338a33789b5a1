package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// NetnsDir is where `ip netns add` bind-mounts named namespaces.
const NetnsDir = "/var/run/netns"

// host creates and removes the network namespaces and links of a run with
// iproute2. Every name starts with prefix, so a run removes only its own
// objects and a later run can sweep what a killed one left behind.
type host struct {
	prefix string
	ip     string // path of the ip binary
}

func (h host) run(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, h.ip, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// batch runs several ip commands in one process (`ip -batch -`), which is
// what makes creating a hundred namespaces cheap. With force, ip carries on
// past a failing line (used for cleanup).
func (h host) batch(ctx context.Context, lines []string, force bool) error {
	if len(lines) == 0 {
		return nil
	}
	args := []string{"-batch", "-"}
	if force {
		args = []string{"-force", "-batch", "-"}
	}
	_, err := h.run(ctx, strings.Join(lines, "\n")+"\n", args...)
	return err
}

func (h host) addNetns(ctx context.Context, names []string) error {
	lines := make([]string, len(names))
	for i, n := range names {
		lines[i] = "netns add " + n
	}
	return h.batch(ctx, lines, false)
}

func (h host) delNetns(ctx context.Context, names []string) error {
	lines := make([]string, len(names))
	for i, n := range names {
		lines[i] = "netns del " + n
	}
	return h.batch(ctx, lines, true)
}

// addVethUp creates a veth pair on the host and sets both ends up; one end is
// the macvlan master (the kernel has no dummy links here).
func (h host) addVethUp(ctx context.Context, a, b string) error {
	return h.batch(ctx, []string{
		fmt.Sprintf("link add %s type veth peer name %s", a, b),
		"link set " + a + " up",
		"link set " + b + " up",
	}, false)
}

// ownNetns lists the named namespaces that carry the prefix.
func (h host) ownNetns(ctx context.Context) ([]string, error) {
	out, err := h.run(ctx, "", "netns", "list")
	if err != nil {
		return nil, err
	}
	return filterPrefix(parseNetnsList(out), h.prefix), nil
}

// ownLinks lists the host links that carry the prefix.
func (h host) ownLinks(ctx context.Context) ([]string, error) {
	out, err := h.run(ctx, "", "-o", "link", "show")
	if err != nil {
		return nil, err
	}
	return filterPrefix(parseLinkNames(out), h.prefix), nil
}

// sweep removes every namespace and link carrying the prefix.
func (h host) sweep(ctx context.Context) (int, error) {
	nss, err := h.ownNetns(ctx)
	if err != nil {
		return 0, err
	}
	links, err := h.ownLinks(ctx)
	if err != nil {
		return 0, err
	}
	lines := make([]string, 0, len(nss)+len(links))
	for _, n := range nss {
		lines = append(lines, "netns del "+n)
	}
	for _, l := range links {
		lines = append(lines, "link del "+l)
	}
	// Deleting one end of a veth pair removes the other, so some lines of the
	// batch fail; what matters is that nothing of ours is left.
	batchErr := h.batch(ctx, lines, true)
	if left, err := h.ownNetns(ctx); err != nil || len(left) > 0 {
		return len(lines), errors.Join(batchErr, err, fmt.Errorf("namespaces left after sweep: %v", left))
	}
	if left, err := h.ownLinks(ctx); err != nil || len(left) > 0 {
		return len(lines), errors.Join(batchErr, err, fmt.Errorf("links left after sweep: %v", left))
	}
	return len(lines), nil
}

// parseNetnsList reads `ip netns list` output: "name" or "name (id: 3)".
func parseNetnsList(out string) []string {
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// parseLinkNames reads `ip -o link show` output: "3: name@peer: <...> ...".
func parseLinkNames(out string) []string {
	var names []string
	for _, line := range strings.Split(out, "\n") {
		_, rest, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, ":")
		name, _, _ = strings.Cut(name, "@")
		if name = strings.TrimSpace(name); name != "" {
			names = append(names, name)
		}
	}
	return names
}

func filterPrefix(names []string, prefix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}
