package repro

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/multus-thick/multus-thick/lab/internal/step"
)

// ReplayOptions are the make variables of repro-replay.
type ReplayOptions struct {
	Dir    string // DIR: an evidence folder of repro-delegate
	Plugin string // PLUGIN: a new build of the plugin to replay instead of the recorded one
	Node   string // NODE: another node than the recorded one
}

// ReplayEnv is what a replay needs from outside: no Kubernetes, only the nodes.
type ReplayEnv struct {
	Nodes    Nodes
	Progress *step.Reporter
	Out      io.Writer
	Now      func() time.Time
	Suffix   func() string
}

// ReplayedCall compares one recorded call with its replay.
type ReplayedCall struct {
	Index          int      `json:"index"`
	Command        string   `json:"command"`
	Type           string   `json:"type"`
	ContainerID    string   `json:"containerID"`
	IfName         string   `json:"ifname"`
	RecordedExit   *int     `json:"recordedExit"` // nil: never finished
	RecordedCNI    int      `json:"recordedCNICode,omitempty"`
	RecordedMs     *float64 `json:"recordedMs,omitempty"`
	ReplayExit     int      `json:"replayExit"`
	ReplayCNI      int      `json:"replayCNICode,omitempty"`
	ReplayMs       float64  `json:"replayMs"`
	CutOff         bool     `json:"cutOff,omitempty"` // killed at the delegate deadline
	Same           bool     `json:"same"`
	ReplayError    string   `json:"replayError,omitempty"`
	NotRecorded    bool     `json:"notRecorded,omitempty"` // a cleanup DEL the replay added
	Stdout, Stderr string   `json:"-"`
}

// ReplayReport is replay.json.
type ReplayReport struct {
	Dir       string         `json:"dir"`
	Node      string         `json:"node"`
	Netns     string         `json:"netns"`
	Calls     []ReplayedCall `json:"calls"`
	Cleanup   []ReplayedCall `json:"cleanup,omitempty"`
	Leftovers []string       `json:"leftovers,omitempty"`
	AllSame   bool           `json:"allSame"`
}

// Replay runs the calls recorded in opts.Dir again on the node, in a throwaway netns, with
// the recorded stdin and environment (CNI_NETNS pointed at that netns, CNI_PATH led by the
// replay's own bin dir), compares exit codes and leaves the node as it found it.
func Replay(ctx context.Context, env ReplayEnv, opts ReplayOptions) (*ReplayReport, error) {
	var m Manifest
	data, err := os.ReadFile(filepath.Join(opts.Dir, "repro.json"))
	if err != nil {
		return nil, fmt.Errorf("DIR=%s is not a repro-delegate folder: %w", opts.Dir, err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s/repro.json: %w", opts.Dir, err)
	}
	calls, err := ReadCalls(filepath.Join(opts.Dir, "calls"))
	if err != nil {
		return nil, err
	}
	if len(calls) == 0 {
		return nil, fmt.Errorf("DIR=%s holds no recorded calls", opts.Dir)
	}
	timeout, err := time.ParseDuration(m.DelegateTimeout)
	if err != nil || timeout <= 0 {
		timeout = defaultDelegateTimeout
	}
	node := m.Node
	if opts.Node != "" {
		node = opts.Node
	}
	suffix := env.Suffix()
	rp := &replay{env: env, opts: opts, m: m, node: node, timeout: timeout,
		netns: "mt-replay-" + suffix, base: replayRoot + "/replay-" + suffix, faultState: FaultStateFiles(calls)}
	rep := &ReplayReport{Dir: opts.Dir, Node: node, Netns: "/var/run/netns/" + rp.netns}
	if err := env.Progress.Do(ctx, "prepare node "+node+": bin dir and netns "+rp.netns, rp.prepare); err != nil {
		rp.teardown(ctx)
		return nil, err
	}
	runErr := env.Progress.Do(ctx, fmt.Sprintf("replay %d calls", len(calls)), func(ctx context.Context, log io.Writer) error {
		return rp.replayAll(ctx, log, calls, rep)
	})
	after, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	tdErr := env.Progress.Do(after, "remove the netns and the bin dir", func(ctx context.Context, log io.Writer) error {
		return rp.teardown(ctx)
	})
	if st, err := Snapshot(after, env.Nodes, node); err == nil {
		rep.Leftovers = Leftovers(rp.before, st, ContainerIDs(calls))
	} else {
		tdErr = errors.Join(tdErr, err)
	}
	out := filepath.Join(opts.Dir, "replay-"+env.Now().UTC().Format("20060102T150405Z"))
	wErr := writeReplay(out, rep)
	rep.Render(env.Out, out)
	return rep, errors.Join(runErr, tdErr, wErr)
}

type replay struct {
	env     ReplayEnv
	opts    ReplayOptions
	m       Manifest
	node    string
	timeout time.Duration
	netns   string
	base    string
	before  State
	// cni-fault's "times" counters the recorded configs name: reset before the replay so
	// it fails the calls the run saw failing, removed after it.
	faultState []string
	// plugin path on the node per type
	paths map[string]string
}

func (rp *replay) prepare(ctx context.Context, log io.Writer) error {
	n := rp.env.Nodes
	arch, err := nodeArch(ctx, n, rp.node)
	if err != nil {
		return err
	}
	rp.paths = map[string]string{}
	newBuild := ""
	if rp.opts.Plugin != "" {
		if newBuild, err = replayPluginType(rp.m, rp.opts.Plugin); err != nil {
			return err
		}
	}
	bin := rp.base + "/bin"
	if _, err := sh(ctx, n, rp.node, nil, `mkdir -p "$1"`, bin); err != nil {
		return err
	}
	if len(rp.faultState) > 0 {
		if _, err := sh(ctx, n, rp.node, nil, `rm -f "$@"`, rp.faultState...); err != nil {
			return fmt.Errorf("reset the cni-fault counters: %w", err)
		}
		fmt.Fprintf(log, "reset the cni-fault counters %v\n", rp.faultState)
	}
	for _, t := range rp.m.Types {
		src := ""
		switch {
		case t == newBuild:
			src = rp.opts.Plugin
		case t == rp.m.PluginType && rp.m.PluginFile != "":
			src = filepath.Join(rp.opts.Dir, rp.m.PluginFile)
		}
		if src == "" {
			rp.paths[t] = cniBinDir + "/" + t
			fmt.Fprintf(log, "%s: the node's %s/%s\n", t, cniBinDir, t)
			continue
		}
		if _, err := CheckPluginFile(src, arch); err != nil {
			return err
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("PLUGIN: %w", err)
		}
		if err := installFile(ctx, n, rp.node, bin, t, data); err != nil {
			return err
		}
		rp.paths[t] = bin + "/" + t
		fmt.Fprintf(log, "%s: %s from %s\n", t, rp.paths[t], src)
	}
	if rp.before, err = Snapshot(ctx, n, rp.node); err != nil {
		return err
	}
	// A pod's netns has lo up (the runtime's loopback); so does this one.
	_, err = sh(ctx, n, rp.node, nil, `ip netns add "$1" && ip netns exec "$1" ip link set lo up`, rp.netns)
	return err
}

// replayPluginType is the recorded type a new build replaces: the one named like the
// file, else the run's PLUGIN type, else the only type.
func replayPluginType(m Manifest, plugin string) (string, error) {
	base := filepath.Base(plugin)
	switch {
	case slices.Contains(m.Types, base):
		return base, nil
	case m.PluginType != "":
		return m.PluginType, nil
	case len(m.Types) == 1:
		return m.Types[0], nil
	}
	return "", fmt.Errorf("PLUGIN %s: its name is none of the recorded types %v; name the file after the type it implements", plugin, m.Types)
}

func (rp *replay) teardown(ctx context.Context) error {
	args := append([]string{rp.netns, rp.base}, rp.faultState...)
	_, err := sh(ctx, rp.env.Nodes, rp.node, nil, `ip netns del "$1" 2>/dev/null; rm -rf "$2"; shift 2; rm -f "$@"; true`, args...)
	return err
}

// replayAll runs every call in order, then a DEL for every attachment the replay left
// added, so that the node keeps no lease or cache of a replay.
func (rp *replay) replayAll(ctx context.Context, log io.Writer, calls []Call, rep *ReplayReport) error {
	added := map[string]Call{} // container/ifname/type -> the ADD that succeeded last
	var order []string
	for i, c := range calls {
		rc, err := rp.runOne(ctx, c, c.Env)
		if err != nil {
			return err
		}
		rc.Index = i + 1
		rep.Calls = append(rep.Calls, rc)
		fmt.Fprintf(log, "#%d %s %s: recorded %s, replay exit %d in %.1fms\n", rc.Index, rc.Command, rc.Type, exitText(rc.RecordedExit), rc.ReplayExit, rc.ReplayMs)
		key := c.Meta.ContainerID + "/" + c.Meta.IfName + "/" + c.Meta.Type
		switch {
		case c.Meta.Command == "ADD" && rc.ReplayExit == 0:
			if _, ok := added[key]; !ok {
				order = append(order, key)
			}
			added[key] = c
		case c.Meta.Command == "DEL":
			delete(added, key)
		}
	}
	for _, key := range order {
		c, ok := added[key]
		if !ok {
			continue
		}
		rc, err := rp.runOne(ctx, c, withEnv(c.Env, "CNI_COMMAND", "DEL"))
		if err != nil {
			return err
		}
		rc.Command, rc.NotRecorded, rc.RecordedExit, rc.RecordedMs, rc.Same = "DEL", true, nil, nil, rc.ReplayExit == 0
		rep.Cleanup = append(rep.Cleanup, rc)
	}
	rep.AllSame = true
	for _, c := range rep.Calls {
		rep.AllSame = rep.AllSame && c.Same
	}
	return nil
}

// replayScript runs one call: $1 the timeout in seconds, $2 the plugin, then the
// environment's KEY=VALUE words; the config comes on stdin. It prints the exit code and
// the duration in ns, then stdout and stderr in base64, one a line.
const replayScript = `t=$1; p=$2; shift 2
o=$(mktemp); e=$(mktemp)
s=$(date +%s%N)
env -i "$@" timeout -s KILL "$t" "$p" > "$o" 2> "$e"; rc=$?
d=$(( $(date +%s%N) - s ))
echo "$rc $d"; base64 -w0 "$o"; echo; base64 -w0 "$e"; echo
rm -f "$o" "$e"`

func (rp *replay) runOne(ctx context.Context, c Call, environ []string) (ReplayedCall, error) {
	rc := ReplayedCall{Command: c.Meta.Command, Type: c.Meta.Type, ContainerID: c.Meta.ContainerID, IfName: c.Meta.IfName}
	if c.Exit != nil {
		code := c.Exit.Code
		ms := c.Exit.DurationMs
		rc.RecordedExit, rc.RecordedMs = &code, &ms
	}
	if e := c.CNIError(); e != nil && c.Failed() {
		rc.RecordedCNI = e.Code
	}
	plugin := rp.paths[c.Meta.Type]
	if plugin == "" {
		plugin = cniBinDir + "/" + c.Meta.Type
	}
	args := []string{strconv.Itoa(int(rp.timeout.Seconds())), plugin}
	args = append(args, ReplayEnviron(environ, "/var/run/netns/"+rp.netns, rp.base+"/bin")...)
	cctx, cancel := context.WithTimeout(ctx, rp.timeout+30*time.Second)
	defer cancel()
	out, err := sh(cctx, rp.env.Nodes, rp.node, bytes.NewReader(c.Stdin), replayScript, args...)
	if err != nil {
		return rc, fmt.Errorf("replay %s %s: %w", c.Meta.Command, c.Meta.Type, err)
	}
	lines := strings.Split(out, "\n")
	if len(lines) < 3 {
		return rc, fmt.Errorf("replay %s %s: unexpected answer %q", c.Meta.Command, c.Meta.Type, out)
	}
	f := strings.Fields(lines[0])
	if len(f) != 2 {
		return rc, fmt.Errorf("replay: unexpected answer %q", lines[0])
	}
	rc.ReplayExit, _ = strconv.Atoi(f[0])
	ns, _ := strconv.ParseInt(f[1], 10, 64)
	rc.ReplayMs = float64(ns/1000) / 1000
	so, _ := base64.StdEncoding.DecodeString(lines[1])
	se, _ := base64.StdEncoding.DecodeString(lines[2])
	rc.Stdout, rc.Stderr = string(so), string(se)
	if rc.ReplayExit != 0 {
		if e := parseCNIError(so); e != nil {
			rc.ReplayCNI = e.Code
		}
	}
	// timeout -s KILL exits 137 when it cut the plugin off.
	rc.CutOff = rc.ReplayExit == 137 && time.Duration(ns) >= rp.timeout
	if rc.RecordedExit == nil {
		rc.Same = rc.CutOff
	} else {
		rc.Same = *rc.RecordedExit == rc.ReplayExit && rc.RecordedCNI == rc.ReplayCNI
	}
	return rc, nil
}

// ReplayEnviron is the recorded environment for a replay: CNI_NETNS (when the call had
// one) moved to the throwaway netns, and CNI_PATH led by the replay's bin dir so the new
// build of the plugin and its helpers are found first.
func ReplayEnviron(recorded []string, netns, bin string) []string {
	out := make([]string, 0, len(recorded))
	for _, kv := range recorded {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case k == "CNI_NETNS" && v != "":
			kv = k + "=" + netns
		case k == "CNI_PATH":
			kv = k + "=" + bin + ":" + v
		}
		out = append(out, kv)
	}
	return out
}

func withEnv(environ []string, key, value string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

func exitText(code *int) string {
	if code == nil {
		return "never finished"
	}
	return "exit " + strconv.Itoa(*code)
}

func writeReplay(dir string, rep *ReplayReport) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var errs []error
	for _, c := range append(append([]ReplayedCall(nil), rep.Calls...), rep.Cleanup...) {
		name := fmt.Sprintf("%03d-%s-%s", c.Index, c.Command, c.Type)
		if c.NotRecorded {
			name = fmt.Sprintf("cleanup-%s-%s-%.12s", c.Command, c.Type, c.ContainerID)
		}
		errs = append(errs,
			os.WriteFile(filepath.Join(dir, name+".stdout"), []byte(c.Stdout), 0o644),
			os.WriteFile(filepath.Join(dir, name+".stderr"), []byte(c.Stderr), 0o644))
	}
	errs = append(errs, writeJSON(filepath.Join(dir, "replay.json"), rep))
	return errors.Join(errs...)
}

// Render prints the comparison table.
func (rep *ReplayReport) Render(w io.Writer, dir string) {
	fmt.Fprintf(w, "replay of %s on %s (netns %s)\n", rep.Dir, rep.Node, rep.Netns)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tcommand\ttype\tcontainer\trecorded\treplay\tms (rec/replay)\t")
	for _, c := range rep.Calls {
		rec := exitText(c.RecordedExit)
		if c.RecordedCNI != 0 {
			rec += fmt.Sprintf(" (CNI %d)", c.RecordedCNI)
		}
		got := fmt.Sprintf("exit %d", c.ReplayExit)
		if c.ReplayCNI != 0 {
			got += fmt.Sprintf(" (CNI %d)", c.ReplayCNI)
		}
		if c.CutOff {
			got += " cut off"
		}
		if !c.Same {
			got += "  DIFFERENT"
		}
		recMs := "-"
		if c.RecordedMs != nil {
			recMs = fmt.Sprintf("%.1f", *c.RecordedMs)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.12s\t%s\t%s\t%s/%.1f\t\n", c.Index, c.Command, c.Type, c.ContainerID, rec, got, recMs, c.ReplayMs)
	}
	tw.Flush()
	for _, c := range rep.Cleanup {
		fmt.Fprintf(w, "cleanup DEL (not recorded) %s %.12s/%s: exit %d\n", c.Type, c.ContainerID, c.IfName, c.ReplayExit)
	}
	if rep.AllSame {
		fmt.Fprintln(w, "every call ended as recorded")
	} else {
		fmt.Fprintln(w, "some calls ended differently from the recording (DIFFERENT above)")
	}
	if len(rep.Leftovers) > 0 {
		fmt.Fprintf(w, "node state after the replay: %d leftovers: %s\n", len(rep.Leftovers), strings.Join(rep.Leftovers, ", "))
	} else {
		fmt.Fprintln(w, "node state after the replay: nothing left behind")
	}
	fmt.Fprintf(w, "outputs: %s\n", dir)
}
