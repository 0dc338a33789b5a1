package host

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"

	"github.com/multus-thick/multus-thick/lab/internal/run"
)

// GuardComment marks every iptables rule the guard owns, so RemoveGuard deletes only those.
const GuardComment = "mt-lab-guard"

// GuardOptions describe the docker network kind will use and the bridge behind it.
type GuardOptions struct {
	Network string // docker network name; kind uses an existing network of this name
	Bridge  string // Linux bridge name, stable so the iptables rules can name it
	Subnet  string // IPv4 only
	Gateway string
	Log     io.Writer // iptables and docker output; nil discards
}

// DefaultGuardOptions are the lab's defaults. 172.30.0.0/16 sits at the end of docker's own
// 172.17-31 pool, which it hands out in order, so it rarely clashes.
func DefaultGuardOptions() GuardOptions {
	return GuardOptions{Network: "kind", Bridge: "mt-kind0", Subnet: "172.30.0.0/16", Gateway: "172.30.0.1"}
}

// EnsureGuard creates the kind network before kind does, on a named bridge with masquerading
// off, and installs the reject rules: anything entering from that bridge and leaving through
// another interface, and anything forwarded out of the host's uplink (covering docker0 and
// every other bridge). Call it after EnsureDocker and before the first container starts.
//
// Why: during a measured bring-up a flannel pod reached 10.96.0.1 through the host's default
// route before kube-proxy had programmed the node, and something outside answered
// (lab-facts.md, "Traffic must never leave the machine").
func EnsureGuard(ctx context.Context, log *slog.Logger, opts GuardOptions) error {
	r := run.Runner{Log: opts.Log}
	if err := ensureNetwork(ctx, log, r, opts); err != nil {
		return fmt.Errorf("guard network %s: %w", opts.Network, err)
	}
	uplinks, err := Uplinks(ctx)
	if err != nil {
		return err
	}
	// DOCKER-USER exists once dockerd has started; create it so the rules can go in anyway.
	_ = r.Run(ctx, "iptables", "-N", "DOCKER-USER")
	rules := guardRules(opts.Bridge, uplinks)
	for _, chain := range []string{"DOCKER-USER", "FORWARD"} {
		if err := ensureChainRules(ctx, r, chain, rules); err != nil {
			return err
		}
	}
	log.Debug("egress guard up", "bridge", opts.Bridge, "uplinks", uplinks)
	return nil
}

// ensureChainRules puts the guard's rules for chain at its top. Rules that are present but
// sit below others (the hand-run egress-guard tool, or docker's jump after a restart, insert
// at the top too) are moved up, so the guard's counter sees every rejected packet.
func ensureChainRules(ctx context.Context, r run.Runner, chain string, rules [][]string) error {
	var mine [][]string
	for _, rule := range rules {
		if rule[0] == chain {
			mine = append(mine, rule)
		}
	}
	listing, err := r.Output(ctx, "iptables", "-S", chain)
	if err != nil {
		return fmt.Errorf("list %s: %w", chain, err)
	}
	present := 0
	for _, rule := range mine {
		if r.Run(ctx, "iptables", append([]string{"-C"}, rule...)...) == nil {
			present++
		}
	}
	if present == len(mine) && guardOnTop(string(listing), len(mine)) {
		return nil
	}
	for _, del := range deleteArgs(string(listing)) {
		if err := r.Run(ctx, "iptables", del...); err != nil {
			return fmt.Errorf("reorder guard rule: %w", err)
		}
	}
	for i := len(mine) - 1; i >= 0; i-- { // inserting at 1 in reverse keeps their order
		if err := r.Run(ctx, "iptables", append([]string{"-I"}, mine[i]...)...); err != nil {
			return fmt.Errorf("guard rule %v: %w", mine[i], err)
		}
	}
	return nil
}

// guardOnTop reports whether the first n rules of `iptables -S CHAIN` output are the guard's.
func guardOnTop(listing string, n int) bool {
	seen := 0
	for line := range strings.SplitSeq(listing, "\n") {
		if !strings.HasPrefix(line, "-A ") {
			continue
		}
		if seen == n {
			break
		}
		if !strings.Contains(line, GuardComment) {
			return false
		}
		seen++
	}
	return seen == n
}

// guardRules are the rules (chain first) the guard keeps.
func guardRules(bridge string, uplinks []string) [][]string {
	tag := []string{"-m", "comment", "--comment", GuardComment, "-j", "REJECT"}
	rules := [][]string{append([]string{"DOCKER-USER", "-i", bridge, "!", "-o", bridge}, tag...)}
	for _, u := range uplinks {
		for _, chain := range []string{"DOCKER-USER", "FORWARD"} {
			rules = append(rules, append([]string{chain, "-o", u}, tag...))
		}
	}
	return rules
}

type dockerNetwork struct {
	Name       string            `json:"Name"`
	Options    map[string]string `json:"Options"`
	Containers map[string]any    `json:"Containers"`
}

func inspectNetwork(ctx context.Context, r run.Runner, name string) (*dockerNetwork, error) {
	if exec.CommandContext(ctx, "docker", "network", "inspect", name).Run() != nil {
		return nil, nil // absent
	}
	out, err := r.Output(ctx, "docker", "network", "inspect", "--format", "{{json .}}", name)
	if err != nil {
		return nil, err
	}
	var n dockerNetwork
	if err := json.Unmarshal(out, &n); err != nil {
		return nil, fmt.Errorf("parse network inspect: %w", err)
	}
	return &n, nil
}

func ensureNetwork(ctx context.Context, log *slog.Logger, r run.Runner, opts GuardOptions) error {
	n, err := inspectNetwork(ctx, r, opts.Network)
	if err != nil {
		return err
	}
	if n != nil {
		if n.Options["com.docker.network.bridge.name"] == opts.Bridge &&
			n.Options["com.docker.network.bridge.enable_ip_masquerade"] == "false" {
			return nil
		}
		if len(n.Containers) > 0 {
			return fmt.Errorf("network exists without the guard's bridge %s and has %d containers; delete the cluster first",
				opts.Bridge, len(n.Containers))
		}
		log.Info("replacing unguarded docker network", "network", opts.Network)
		if err := r.Run(ctx, "docker", "network", "rm", opts.Network); err != nil {
			return err
		}
	}
	return r.Run(ctx, "docker", "network", "create", "--driver", "bridge",
		"--subnet", opts.Subnet, "--gateway", opts.Gateway,
		"-o", "com.docker.network.bridge.name="+opts.Bridge,
		"-o", "com.docker.network.bridge.enable_ip_masquerade=false",
		"-o", "com.docker.network.driver.mtu=1500",
		opts.Network)
}

// RemoveGuard deletes the guard's rules and, when it is the guard's and empty, its network.
func RemoveGuard(ctx context.Context, log *slog.Logger, opts GuardOptions) error {
	r := run.Runner{Log: opts.Log}
	for _, chain := range []string{"DOCKER-USER", "FORWARD"} {
		out, err := r.Output(ctx, "iptables", "-S", chain)
		if err != nil {
			continue // chain absent: nothing of ours in it
		}
		for _, del := range deleteArgs(string(out)) {
			if err := r.Run(ctx, "iptables", del...); err != nil {
				return fmt.Errorf("remove guard rule: %w", err)
			}
		}
	}
	n, err := inspectNetwork(ctx, r, opts.Network)
	if err != nil || n == nil {
		return err
	}
	if n.Options["com.docker.network.bridge.name"] != opts.Bridge {
		log.Info("leaving docker network alone: not the guard's", "network", opts.Network)
		return nil
	}
	if len(n.Containers) > 0 {
		return fmt.Errorf("guard network %s still has %d containers", opts.Network, len(n.Containers))
	}
	return r.Run(ctx, "docker", "network", "rm", opts.Network)
}

// deleteArgs turns the guard's lines of `iptables -S CHAIN` into `iptables -D` arguments.
func deleteArgs(rules string) [][]string {
	var out [][]string
	for line := range strings.SplitSeq(rules, "\n") {
		if !strings.HasPrefix(line, "-A ") || !strings.Contains(line, GuardComment) {
			continue
		}
		args := strings.Fields(line)
		args[0] = "-D"
		for i, a := range args { // iptables -S quotes comments that need it; ours needs none
			args[i] = strings.Trim(a, `"`)
		}
		out = append(out, args)
	}
	return out
}

// GuardCounter returns how many packets the guard's rules have rejected.
func GuardCounter(ctx context.Context) (uint64, error) {
	var total uint64
	for _, chain := range []string{"DOCKER-USER", "FORWARD"} {
		out, err := exec.CommandContext(ctx, "iptables", "-L", chain, "-v", "-n", "-x").Output()
		if err != nil {
			continue
		}
		n, err := sumGuardPackets(string(out))
		if err != nil {
			return 0, fmt.Errorf("chain %s: %w", chain, err)
		}
		total += n
	}
	return total, nil
}

// sumGuardPackets adds the packet counts of the guard's rules in `iptables -L -v -n -x` output.
func sumGuardPackets(listing string) (uint64, error) {
	var total uint64
	for line := range strings.SplitSeq(listing, "\n") {
		if !strings.Contains(line, "/* "+GuardComment+" */") {
			continue
		}
		fields := strings.Fields(line)
		n, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("packet count in %q: %w", line, err)
		}
		total += n
	}
	return total, nil
}

// Uplinks returns the devices of the host's default routes.
func Uplinks(ctx context.Context) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ip", "-j", "route", "show", "default").Output()
	if err != nil {
		return nil, fmt.Errorf("default routes: %w", err)
	}
	return parseUplinks(out)
}

func parseUplinks(routesJSON []byte) ([]string, error) {
	var routes []struct {
		Dev string `json:"dev"`
	}
	if err := json.Unmarshal(routesJSON, &routes); err != nil {
		return nil, fmt.Errorf("parse default routes: %w", err)
	}
	var devs []string
	seen := map[string]bool{}
	for _, r := range routes {
		if r.Dev != "" && !seen[r.Dev] {
			seen[r.Dev] = true
			devs = append(devs, r.Dev)
		}
	}
	return devs, nil
}
