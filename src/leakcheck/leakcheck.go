// Package leakcheck finds what a pod's attachments left on a node after
// its DEL: links in the pod's netns and on the host, host-local leases,
// libcni result caches, the daemon's scratch files (with their .tmp and
// .corrupt leftovers) and iptables rules naming the pod's IPs. The netns
// tier and the lab scenarios both end their fault cases with it, so it is
// outside internal/ (scenarios/ imports it) and runs everything through a
// Node: the local machine (optionally inside a netns) or a kind node.
//
// Every check runs one `sh -c` script, so the programs it needs on the node
// (sh, ip, grep, ls, iptables-save) are the node's, not the test host's.
package leakcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Node runs a program on the node under test.
type Node interface {
	Run(ctx context.Context, name string, args ...string) ([]byte, error)
}

// NodeFunc adapts a function to Node.
type NodeFunc func(ctx context.Context, name string, args ...string) ([]byte, error)

// Run implements Node.
func (f NodeFunc) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	return f(ctx, name, args...)
}

// Spec says what belonged to the pods under test.
type Spec struct {
	// ContainerIDs are the sandboxes whose state must be gone.
	ContainerIDs []string
	// PodNetns are the pods' netns paths; a netns that still exists must
	// hold nothing but lo. Paths under /var/run/netns or /run/netns only.
	PodNetns []string
	// PodIPs are the pods' addresses; no iptables rule may name them.
	PodIPs []string
	// IPAMDirs are host-local dataDirs (each holds one directory per network).
	IPAMDirs []string
	// CacheDirs are libcni cache dirs (results/ inside each).
	CacheDirs []string
	// ScratchDirs are the daemon's cniDirs.
	ScratchDirs []string
}

// Checker checks one node; Baseline records the host links that existed
// before the test, which are not leaks.
type Checker struct {
	Node     Node
	baseline map[string]bool
}

// Leak is one thing left behind.
type Leak struct {
	Kind string // "pod-link", "host-link", "lease", "result-cache", "scratch", "iptables"
	What string
}

func (l Leak) String() string { return l.Kind + ": " + l.What }

// Baseline records the node's current links.
func (c *Checker) Baseline(ctx context.Context) error {
	links, err := c.links(ctx, "")
	if err != nil {
		return err
	}
	c.baseline = map[string]bool{}
	for _, l := range links {
		c.baseline[l.Name] = true
	}
	return nil
}

// Check returns every leak of spec's pods, sorted; none is nil.
func (c *Checker) Check(ctx context.Context, spec Spec) ([]Leak, error) {
	var leaks []Leak
	for _, check := range []func(context.Context, Spec) ([]Leak, error){
		c.podLinks, c.hostLinks, c.leases, c.resultCaches, c.scratch, c.iptables,
	} {
		found, err := check(ctx, spec)
		if err != nil {
			return nil, err
		}
		leaks = append(leaks, found...)
	}
	sort.Slice(leaks, func(i, j int) bool { return leaks[i].String() < leaks[j].String() })
	return leaks, nil
}

// Describe is leaks as one line each, for test failures.
func Describe(leaks []Leak) string {
	lines := make([]string, len(leaks))
	for i, l := range leaks {
		lines[i] = l.String()
	}
	return strings.Join(lines, "\n")
}

func (c *Checker) sh(ctx context.Context, script string) (string, error) {
	out, err := c.Node.Run(ctx, "sh", "-c", script)
	if err != nil {
		return "", fmt.Errorf("leakcheck: %q: %w: %s", script, err, out)
	}
	return string(out), nil
}

type link struct {
	Name string `json:"ifname"`
	Info struct {
		Kind string `json:"info_kind"`
	} `json:"linkinfo"`
}

// links lists the links of the named netns ("" the node's own).
func (c *Checker) links(ctx context.Context, netnsName string) ([]link, error) {
	script := "ip -j -d link show"
	if netnsName != "" {
		script = "ip -n " + shellQuote(netnsName) + " -j -d link show"
	}
	out, err := c.sh(ctx, script)
	if err != nil {
		return nil, err
	}
	var links []link
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		return nil, fmt.Errorf("leakcheck: parse %q: %w", script, err)
	}
	return links, nil
}

func (c *Checker) podLinks(ctx context.Context, spec Spec) ([]Leak, error) {
	var leaks []Leak
	for _, p := range spec.PodNetns {
		dir, name := filepath.Dir(p), filepath.Base(p)
		if dir != "/var/run/netns" && dir != "/run/netns" {
			return nil, fmt.Errorf("leakcheck: pod netns %s is not under /var/run/netns", p)
		}
		exists, err := c.sh(ctx, "[ -e "+shellQuote(p)+" ] && echo yes || true")
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(exists) != "yes" {
			continue // the sandbox is gone, and its links with it
		}
		links, err := c.links(ctx, name)
		if err != nil {
			return nil, err
		}
		for _, l := range links {
			if l.Name != "lo" {
				leaks = append(leaks, Leak{"pod-link", p + " " + l.Name})
			}
		}
	}
	return leaks, nil
}

// hostLinks reports links created since Baseline, bridges excepted: the
// bridge plugin keeps its bridge for the next pod by design.
func (c *Checker) hostLinks(ctx context.Context, _ Spec) ([]Leak, error) {
	if c.baseline == nil {
		return nil, nil
	}
	links, err := c.links(ctx, "")
	if err != nil {
		return nil, err
	}
	var leaks []Leak
	for _, l := range links {
		if !c.baseline[l.Name] && l.Info.Kind != "bridge" {
			leaks = append(leaks, Leak{"host-link", l.Name + " (" + l.Info.Kind + ")"})
		}
	}
	return leaks, nil
}

// leases finds host-local reservation files naming a container: their
// content is "<containerID>\r\n<ifname>".
func (c *Checker) leases(ctx context.Context, spec Spec) ([]Leak, error) {
	if len(spec.IPAMDirs) == 0 || len(spec.ContainerIDs) == 0 {
		return nil, nil
	}
	var args []string
	for _, id := range spec.ContainerIDs {
		args = append(args, "-e "+shellQuote(id))
	}
	var leaks []Leak
	for _, dir := range spec.IPAMDirs {
		out, err := c.sh(ctx, "grep -rlF "+strings.Join(args, " ")+" "+shellQuote(dir)+" 2>/dev/null || true")
		if err != nil {
			return nil, err
		}
		for _, f := range fields(out) {
			leaks = append(leaks, Leak{"lease", f})
		}
	}
	return leaks, nil
}

// resultCaches finds libcni's <cacheDir>/results/<network>-<id>-<ifname>.
func (c *Checker) resultCaches(ctx context.Context, spec Spec) ([]Leak, error) {
	var leaks []Leak
	for _, dir := range spec.CacheDirs {
		names, err := c.list(ctx, filepath.Join(dir, "results"))
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			for _, id := range spec.ContainerIDs {
				if strings.Contains(n, "-"+id+"-") {
					leaks = append(leaks, Leak{"result-cache", filepath.Join(dir, "results", n)})
				}
			}
		}
	}
	return leaks, nil
}

// scratch finds the daemon's <cniDir>/<id>, its temp files and the
// .corrupt copy DEL moves aside.
func (c *Checker) scratch(ctx context.Context, spec Spec) ([]Leak, error) {
	var leaks []Leak
	for _, dir := range spec.ScratchDirs {
		names, err := c.list(ctx, dir)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			for _, id := range spec.ContainerIDs {
				if n == id || n == id+".corrupt" || strings.HasPrefix(n, "."+id+".tmp") {
					leaks = append(leaks, Leak{"scratch", filepath.Join(dir, n)})
				}
			}
		}
	}
	return leaks, nil
}

// iptables finds rules (any table) naming one of the pod IPs.
func (c *Checker) iptables(ctx context.Context, spec Spec) ([]Leak, error) {
	if len(spec.PodIPs) == 0 {
		return nil, nil
	}
	out, err := c.sh(ctx, "iptables-save")
	if err != nil {
		return nil, err
	}
	var leaks []Leak
	for _, ip := range spec.PodIPs {
		re := regexp.MustCompile(`(^|[^0-9.])` + regexp.QuoteMeta(ip) + `([^0-9]|$)`)
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "-A ") && re.MatchString(line) {
				leaks = append(leaks, Leak{"iptables", line})
			}
		}
	}
	return leaks, nil
}

// list names the entries of dir (hidden ones too); a missing dir is empty.
func (c *Checker) list(ctx context.Context, dir string) ([]string, error) {
	out, err := c.sh(ctx, "ls -A "+shellQuote(dir)+" 2>/dev/null || true")
	if err != nil {
		return nil, err
	}
	return fields(out), nil
}

func fields(out string) []string {
	var res []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			res = append(res, l)
		}
	}
	return res
}

// shellQuote single-quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
