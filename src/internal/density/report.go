package density

import (
	"fmt"
	"strings"
	"time"

	"github.com/multus-thick/multus-thick/src/internal/bench"
)

// Report is a whole run, written as bench-lab.json.
type Report struct {
	Started      time.Time     `json:"started"`
	Finished     time.Time     `json:"finished"`
	Commit       string        `json:"commit,omitempty"`
	LoadAvgStart string        `json:"loadavg_start"`
	LoadAvgEnd   string        `json:"loadavg_end"`
	Options      Options       `json:"options"`
	Nodes        []string      `json:"nodes"`
	Phases       []PhaseResult `json:"phases"`
}

// PhaseResult is one phase's figures.
type PhaseResult struct {
	Phase   string  `json:"phase"`
	Mode    Mode    `json:"mode"`
	Pattern Pattern `json:"pattern"`
	Pods    int     `json:"pods"`
	// WallSeconds: from the first create to the last pod seen Ready.
	WallSeconds float64     `json:"wall_s"`
	Latency     Latency     `json:"latency"`
	Nodes       []NodeUsage `json:"nodes"`
	Error       string      `json:"error,omitempty"`
}

// NodeUsage is one node's Multus daemon container during a phase. Delegates
// run in the daemon's container, so their CPU and memory count here too.
type NodeUsage struct {
	Node             string  `json:"node"`
	Pods             int     `json:"pods"`
	DaemonCPUSeconds float64 `json:"daemon_cpu_s"`
	DaemonPeakMiB    float64 `json:"daemon_peak_mib"`
}

// Markdown renders the table `make bench-lab` prints and writes.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Lab density benchmark, %s, commit %s: %d pods per phase, rate phases at %g pods/s; load average %s at the start, %s at the end.\n\n",
		r.Started.Format(time.RFC3339), orDash(r.Commit), r.Options.Pods, r.Options.Rate, orDash(r.LoadAvgStart), orDash(r.LoadAvgEnd))
	b.WriteString("| phase | wall (s) | pod ready p50 / p99 (ms) | sandbox ready p50 / p99 (ms) | ready from conditions p50 / p99 (s) | daemon CPU-s per node | daemon peak MiB per node |\n")
	b.WriteString("|---|---:|---:|---:|---:|---|---|\n")
	for _, p := range r.Phases {
		l := p.Latency
		var cpu, mem []string
		for _, n := range p.Nodes {
			short := shortNode(n.Node, r.Nodes)
			cpu = append(cpu, fmt.Sprintf("%s %.2f", short, n.DaemonCPUSeconds))
			mem = append(mem, fmt.Sprintf("%s %.1f", short, n.DaemonPeakMiB))
		}
		name := p.Phase
		if p.Error != "" {
			name += " (failed)"
		}
		fmt.Fprintf(&b, "| %s | %.1f | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f | %s | %s |\n", name, p.WallSeconds,
			l.Ready.P50, l.Ready.P99, l.Sandbox.P50, l.Sandbox.P99, l.ReadyCond.P50/1000, l.ReadyCond.P99/1000,
			strings.Join(cpu, ", "), strings.Join(mem, ", "))
	}
	b.WriteString("\nPod ready and sandbox ready (PodReadyToStartContainers): from the create request to the first watch event showing the condition, in ms. " +
		"From conditions: creationTimestamp to the Ready condition's lastTransitionTime (whole seconds, as kube-burner computes it). " +
		"Daemon CPU and peak memory: the Multus daemon container's cgroup on each node during the phase (the delegates it runs included); " +
		"in the flannel phases the daemon is idle.\n")
	for _, p := range r.Phases {
		if p.Error != "" {
			fmt.Fprintf(&b, "\n%s failed: %s\n", p.Phase, p.Error)
		}
	}
	return b.String()
}

// Panels are the plot: pod ready and sandbox ready per pattern, one series
// per mode.
func (r Report) Panels() []bench.Panel {
	var panels []bench.Panel
	for _, pat := range r.Options.Patterns {
		ready := bench.Panel{Title: fmt.Sprintf("pod ready, %s (ms)", pat)}
		sandbox := bench.Panel{Title: fmt.Sprintf("sandbox ready, %s (ms)", pat)}
		for _, p := range r.Phases {
			if p.Pattern != pat {
				continue
			}
			ready.Series = append(ready.Series, bench.Series{Name: string(p.Mode), Values: p.Latency.Ready.Samples})
			sandbox.Series = append(sandbox.Series, bench.Series{Name: string(p.Mode), Values: p.Latency.Sandbox.Samples})
		}
		panels = append(panels, ready, sandbox)
	}
	return panels
}

// shortNode drops the prefix every node shares (mt-lab-worker -> worker).
func shortNode(name string, all []string) string {
	if len(all) < 2 {
		return name
	}
	prefix := all[0]
	for _, n := range all[1:] {
		for !strings.HasPrefix(n, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	if i := strings.LastIndex(prefix, "-"); i >= 0 {
		prefix = prefix[:i+1]
	} else {
		prefix = ""
	}
	return strings.TrimPrefix(name, prefix)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
