//go:build e2e

package e2eutil

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Link is one interface inside a pod's netns.
type Link struct {
	Name string
	MAC  string
	// Addrs are the global addresses (link-local IPv6 is left out: the
	// kernel adds it on its own and no plugin reports it).
	Addrs []netip.Prefix
}

// Route is one IPv4 route inside a pod's netns.
type Route struct {
	Dst string // "default" or a prefix
	Via string // "" for a connected route
	Dev string
}

func (r Route) String() string {
	s := r.Dst
	if r.Via != "" {
		s += " via " + r.Via
	}
	return s + " dev " + r.Dev
}

// Netns is what a pod sees of its own network namespace.
type Netns struct {
	Links  map[string]*Link
	Routes []Route
}

// Names returns the link names other than lo, sorted.
func (n Netns) Names() []string {
	var out []string
	for name := range n.Links {
		if name != "lo" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// IPs returns a link's addresses without prefix length, sorted as strings.
func (l *Link) IPs() []string {
	var out []string
	for _, p := range l.Addrs {
		out = append(out, p.Addr().String())
	}
	sort.Strings(out)
	return out
}

// parseAddrs reads `ip -o addr show` (busybox and iproute2 print the same
// one-line form: "2: eth0    inet 10.244.1.5/24 brd ... scope global eth0\ ...").
func parseAddrs(out string, links map[string]*Link) error {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || (f[2] != "inet" && f[2] != "inet6") {
			continue
		}
		name, _, _ := strings.Cut(f[1], "@")
		p, err := netip.ParsePrefix(f[3])
		if err != nil {
			return fmt.Errorf("address line %q: %w", line, err)
		}
		if p.Addr().IsLinkLocalUnicast() {
			continue
		}
		l := links[name]
		if l == nil {
			l = &Link{Name: name}
			links[name] = l
		}
		l.Addrs = append(l.Addrs, p)
	}
	return nil
}

// parseRoutes reads `ip route` (IPv4 main table).
func parseRoutes(out string) []Route {
	var routes []Route
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		r := Route{Dst: f[0]}
		for i := 1; i+1 < len(f); i++ {
			switch f[i] {
			case "via":
				r.Via = f[i+1]
			case "dev":
				r.Dev = f[i+1]
			}
		}
		routes = append(routes, r)
	}
	return routes
}

// RoutesOn returns the routes through dev.
func (n Netns) RoutesOn(dev string) []Route {
	var out []Route
	for _, r := range n.Routes {
		if r.Dev == dev {
			out = append(out, r)
		}
	}
	return out
}

// Defaults returns the default routes.
func (n Netns) Defaults() []Route {
	var out []Route
	for _, r := range n.Routes {
		if r.Dst == "default" {
			out = append(out, r)
		}
	}
	return out
}

// parseInspect splits inspectScript's output into its three sections.
func parseInspect(out string) (Netns, error) {
	n := Netns{Links: map[string]*Link{}}
	macs, rest, ok := strings.Cut(out, "--addr\n")
	if !ok {
		return n, fmt.Errorf("inspect output has no address section: %q", out)
	}
	addrs, routes, ok := strings.Cut(rest, "--route\n")
	if !ok {
		return n, fmt.Errorf("inspect output has no route section: %q", out)
	}
	for _, line := range strings.Split(macs, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			n.Links[f[0]] = &Link{Name: f[0], MAC: strings.ToLower(f[1])}
		}
	}
	if err := parseAddrs(addrs, n.Links); err != nil {
		return n, err
	}
	n.Routes = parseRoutes(routes)
	return n, nil
}
