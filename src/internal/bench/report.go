package bench

import (
	"fmt"
	"strings"
	"time"
)

// Report is the JSON document a run writes (bench.json) and the source of the
// markdown table and the plot.
type Report struct {
	Mode     string          `json:"mode"`
	Started  time.Time       `json:"started"`
	Finished time.Time       `json:"finished"`
	Machine  Machine         `json:"machine"`
	Params   Params          `json:"params"`
	Subjects []SubjectResult `json:"subjects"`
	Floor    FloorResult     `json:"floor"`
	// Notes says what did not run or what deviated from the plan, in words.
	Notes []string `json:"notes,omitempty"`
}

// Machine describes where the run happened; the README quotes it with the table.
type Machine struct {
	CPU    string `json:"cpu"`
	Cores  int    `json:"cores"`
	MemMiB int64  `json:"mem_mib"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
	Commit string `json:"commit,omitempty"`
	// LoadAvg is /proc/loadavg's 1/5/15-minute figures when the run started:
	// the machine is shared, and a busy one inflates every latency.
	LoadAvg string `json:"load_avg,omitempty"`
}

// String is the one-line machine description under the table.
func (m Machine) String() string {
	s := fmt.Sprintf("%s, %d cores, %.0f GiB RAM, Linux %s, %s", m.CPU, m.Cores, float64(m.MemMiB)/1024, m.Kernel, m.Go)
	if m.Commit != "" {
		s += ", commit " + m.Commit
	}
	if m.LoadAvg != "" {
		s += ", load average " + m.LoadAvg + " at start"
	}
	return s
}

// Params are the counts and durations a mode chose.
type Params struct {
	SeqPods       int   `json:"seq_pods"`
	Warmup        int   `json:"warmup"`
	Bursts        []int `json:"bursts"`
	BurstReps     int   `json:"burst_reps"`
	ProcRuns      int   `json:"proc_runs"`
	Starts        int   `json:"daemon_starts"`
	ForeignPods   int   `json:"foreign_pods"`
	ForeignNADs   int   `json:"foreign_nads"`
	SettleMS      int   `json:"settle_ms"`
	IdleSettleMS  int   `json:"idle_settle_ms"`
	SampleEveryMS int   `json:"sample_every_ms"`
}

// Side holds the figures measured both for a shim/daemon pair and the floor.
type Side struct {
	SeqAdd Dist `json:"seq_add"`
	SeqDel Dist `json:"seq_del"`
	// SeqAddCPU is the CPU time per sequential ADD, split by process.
	SeqAddCPU CPUCost `json:"seq_add_cpu"`
	// SeqAddAPI and SeqDelAPI: API requests per sequential ADD and DEL,
	// from the daemon's multus_apiserver_requests_total; nil when the
	// daemon does not export it (and for the floor).
	SeqAddAPI  *APIRequests `json:"seq_add_api,omitempty"`
	SeqDelAPI  *APIRequests `json:"seq_del_api,omitempty"`
	Bursts     []Burst      `json:"bursts"`
	Version    ProcCost     `json:"version"`
	DelUnknown ProcCost     `json:"del_unknown"`
	// Failed counts failed invocations over every phase; FirstErrors keeps a
	// few of their messages.
	Failed      int      `json:"failed"`
	FirstErrors []string `json:"first_errors,omitempty"`
}

// Burst is one round of N concurrent ADDs.
type Burst struct {
	Size int `json:"size"`
	// Reps is how many times the burst ran; WallMS is the median of those
	// runs, PerRequest pools every request of every run.
	Reps       int     `json:"reps"`
	WallMS     float64 `json:"wall_ms"`
	PerRequest Dist    `json:"per_request"`
	Failed     int     `json:"failed"`
	// DaemonPeakRSSKiB is the daemon's own VmHWM over the burst (reset just
	// before it); DaemonSettledRSSKiB its VmRSS after the settle pause.
	DaemonPeakRSSKiB    int64 `json:"daemon_peak_rss_kib,omitempty"`
	DaemonSettledRSSKiB int64 `json:"daemon_settled_rss_kib,omitempty"`
	// DaemonPeakAnonKiB is the largest sampled RssAnon of the daemon: the
	// part of the peak that is heap rather than the mapped binary.
	DaemonPeakAnonKiB int64 `json:"daemon_peak_anon_kib,omitempty"`
	// DelegatesPeakRSSKiB is the largest sampled sum of the RSS of the
	// delegate processes alive at one time: the daemon's descendants for a
	// subject, the harness's own plugin children for the floor.
	DelegatesPeakRSSKiB int64 `json:"delegates_peak_rss_kib"`
	// CallersPeakRSSKiB is the largest sampled sum of the shim processes
	// (subjects only): what the runtime side pays.
	CallersPeakRSSKiB int64 `json:"callers_peak_rss_kib,omitempty"`
}

// CPUCost is CPU time per operation in milliseconds, by process. Clock-tick
// counters (10 ms) summed over a whole phase, divided by its operations.
type CPUCost struct {
	Ops          int     `json:"ops"`
	Daemon       float64 `json:"daemon_ms"`
	Delegates    float64 `json:"delegates_ms"` // the daemon's reaped children, or the floor's plugins
	Shim         float64 `json:"shim_ms"`      // the harness's reaped children in a subject's phase
	ControlPlane float64 `json:"control_plane_ms"`
	// Caller is the harness's own CPU: the libcni calls a runtime makes (of
	// the shim, or in the floor of the plugins themselves).
	Caller float64 `json:"caller_ms"`
}

// Total is the CPU of every process involved.
func (c CPUCost) Total() float64 { return c.Daemon + c.Delegates + c.Shim + c.ControlPlane + c.Caller }

// ProcCost is the cost of one short process invocation, repeated Runs times.
type ProcCost struct {
	Runs int  `json:"runs"`
	Wall Dist `json:"wall"`
	// MaxRSSKiB is the median of wait4's ru_maxrss over the runs (for the
	// floor's multi-plugin DEL: the largest plugin of each run).
	MaxRSSKiB int64  `json:"maxrss_kib"`
	What      string `json:"what"`
}

// SubjectResult is one shim/daemon pair.
type SubjectResult struct {
	Name        string `json:"name"`
	Shim        string `json:"shim"`
	Daemon      string `json:"daemon"`
	ShimVersion string `json:"shim_version,omitempty"`
	Side
	StartToReady       Dist  `json:"start_to_ready"`
	StartToReadyLoaded Dist  `json:"start_to_ready_loaded"`
	IdleRSSKiB         int64 `json:"idle_rss_kib"`
	IdleAnonKiB        int64 `json:"idle_rss_anon_kib"`
	IdleFileKiB        int64 `json:"idle_rss_file_kib"`
	IdleRSSLoadedKiB   int64 `json:"idle_rss_loaded_kib"`
	IdleLoadedAnonKiB  int64 `json:"idle_rss_loaded_anon_kib"`
}

// FloorResult is the same delegates driven directly through libcni.
type FloorResult struct {
	Description string `json:"description"`
	Side
}

// cell is one value of the table; ok=false renders as an em dash.
type cell struct {
	v  float64
	ok bool
}

func val(v float64) cell { return cell{v: v, ok: true} }

func kib(v int64) cell {
	if v <= 0 {
		return cell{}
	}
	return val(float64(v) / 1024)
}

func msCell(d Dist, pick func(Dist) float64) cell {
	if d.N == 0 {
		return cell{}
	}
	return val(pick(d))
}

var none = cell{}

type row struct {
	metric   string
	subjects []cell
	floor    cell
}

func p50(d Dist) float64 { return d.P50 }
func p90(d Dist) float64 { return d.P90 }
func p99(d Dist) float64 { return d.P99 }

// rows lays out the table; each row has one cell per subject plus the floor.
func (r Report) rows() []row {
	per := func(f func(SubjectResult) cell) []cell {
		out := make([]cell, len(r.Subjects))
		for i, s := range r.Subjects {
			out[i] = f(s)
		}
		return out
	}
	var rows []row
	add := func(metric string, s func(SubjectResult) cell, floor cell) {
		rows = append(rows, row{metric: metric, subjects: per(s), floor: floor})
	}
	for _, q := range []struct {
		name string
		pick func(Dist) float64
	}{{"p50", p50}, {"p90", p90}, {"p99", p99}} {
		add(fmt.Sprintf("Sequential ADD %s (ms)", q.name), func(s SubjectResult) cell { return msCell(s.SeqAdd, q.pick) }, msCell(r.Floor.SeqAdd, q.pick))
	}
	cpu := func(f func(CPUCost) float64) func(Side) cell {
		return func(sd Side) cell {
			if sd.SeqAddCPU.Ops == 0 {
				return none
			}
			return val(f(sd.SeqAddCPU))
		}
	}
	for _, c := range []struct {
		name      string
		f         func(CPUCost) float64
		withFloor bool
	}{
		{"daemon", func(c CPUCost) float64 { return c.Daemon }, false},
		{"delegates", func(c CPUCost) float64 { return c.Delegates }, true},
		{"shim", func(c CPUCost) float64 { return c.Shim }, false},
		{"kube-apiserver + etcd", func(c CPUCost) float64 { return c.ControlPlane }, true},
		{"libcni caller (the harness)", func(c CPUCost) float64 { return c.Caller }, true},
		{"total", CPUCost.Total, true},
	} {
		floor := none
		if c.withFloor {
			floor = cpu(c.f)(r.Floor.Side)
		}
		add("CPU per sequential ADD, "+c.name+" (ms)", func(s SubjectResult) cell { return cpu(c.f)(s.Side) }, floor)
	}
	api := func(pick func(Side) *APIRequests) func(SubjectResult) cell {
		return func(s SubjectResult) cell {
			if a := pick(s.Side); a != nil {
				return val(a.PerOp)
			}
			return none
		}
	}
	add("API requests per sequential ADD", api(func(s Side) *APIRequests { return s.SeqAddAPI }), none)
	add("API requests per sequential DEL", api(func(s Side) *APIRequests { return s.SeqDelAPI }), none)
	add("ADD overhead over the floor, p50 (ms)", func(s SubjectResult) cell {
		if s.SeqAdd.N == 0 || r.Floor.SeqAdd.N == 0 {
			return none
		}
		return val(s.SeqAdd.P50 - r.Floor.SeqAdd.P50)
	}, none)
	for _, q := range []struct {
		name string
		pick func(Dist) float64
	}{{"p50", p50}, {"p90", p90}, {"p99", p99}} {
		add(fmt.Sprintf("Sequential DEL %s (ms)", q.name), func(s SubjectResult) cell { return msCell(s.SeqDel, q.pick) }, msCell(r.Floor.SeqDel, q.pick))
	}
	for i, size := range r.Params.Bursts {
		burst := func(side Side) (Burst, bool) {
			if i < len(side.Bursts) && side.Bursts[i].Size == size {
				return side.Bursts[i], true
			}
			return Burst{}, false
		}
		pick := func(side Side, f func(Burst) cell) cell {
			if b, ok := burst(side); ok {
				return f(b)
			}
			return none
		}
		wall := func(b Burst) cell { return val(b.WallMS) }
		rp50 := func(b Burst) cell { return msCell(b.PerRequest, p50) }
		rp99 := func(b Burst) cell { return msCell(b.PerRequest, p99) }
		dpeak := func(b Burst) cell { return kib(b.DaemonPeakRSSKiB) }
		dset := func(b Burst) cell { return kib(b.DaemonSettledRSSKiB) }
		danon := func(b Burst) cell { return kib(b.DaemonPeakAnonKiB) }
		deleg := func(b Burst) cell { return kib(b.DelegatesPeakRSSKiB) }
		prefix := fmt.Sprintf("Burst %d ADDs: ", size)
		add(prefix+"wall (ms)", func(s SubjectResult) cell { return pick(s.Side, wall) }, pick(r.Floor.Side, wall))
		add(prefix+"per-request p50 (ms)", func(s SubjectResult) cell { return pick(s.Side, rp50) }, pick(r.Floor.Side, rp50))
		add(prefix+"per-request p99 (ms)", func(s SubjectResult) cell { return pick(s.Side, rp99) }, pick(r.Floor.Side, rp99))
		add(prefix+"daemon peak RSS (MiB)", func(s SubjectResult) cell { return pick(s.Side, dpeak) }, none)
		add(prefix+"… of which anonymous, sampled (MiB)", func(s SubjectResult) cell { return pick(s.Side, danon) }, none)
		add(prefix+"daemon settled RSS (MiB)", func(s SubjectResult) cell { return pick(s.Side, dset) }, none)
		add(prefix+"delegates peak RSS, sampled sum (MiB)", func(s SubjectResult) cell { return pick(s.Side, deleg) }, pick(r.Floor.Side, deleg))
	}
	add("Daemon idle RSS, empty cluster (MiB)", func(s SubjectResult) cell { return kib(s.IdleRSSKiB) }, none)
	add("… of which anonymous (heap, stacks) (MiB)", func(s SubjectResult) cell { return kib(s.IdleAnonKiB) }, none)
	add("… of which file-backed (binary text) (MiB)", func(s SubjectResult) cell { return kib(s.IdleFileKiB) }, none)
	add(fmt.Sprintf("Daemon idle RSS, %d foreign pods + %d NADs (MiB)", r.Params.ForeignPods, r.Params.ForeignNADs),
		func(s SubjectResult) cell { return kib(s.IdleRSSLoadedKiB) }, none)
	add("… of which anonymous (MiB)", func(s SubjectResult) cell { return kib(s.IdleLoadedAnonKiB) }, none)
	add("Daemon start to ready p50, empty cluster (ms)", func(s SubjectResult) cell { return msCell(s.StartToReady, p50) }, none)
	add("Daemon start to ready p50, loaded cluster (ms)", func(s SubjectResult) cell { return msCell(s.StartToReadyLoaded, p50) }, none)
	add("Shim VERSION wall p50 (ms)", func(s SubjectResult) cell { return msCell(s.Version.Wall, p50) }, msCell(r.Floor.Version.Wall, p50))
	add("Shim VERSION peak RSS (MiB)", func(s SubjectResult) cell { return kib(s.Version.MaxRSSKiB) }, kib(r.Floor.Version.MaxRSSKiB))
	add("DEL of an unknown container, wall p50 (ms)", func(s SubjectResult) cell { return msCell(s.DelUnknown.Wall, p50) }, msCell(r.Floor.DelUnknown.Wall, p50))
	add("DEL of an unknown container, shim peak RSS (MiB)", func(s SubjectResult) cell { return kib(s.DelUnknown.MaxRSSKiB) }, kib(r.Floor.DelUnknown.MaxRSSKiB))
	add("Failed invocations (all phases)", func(s SubjectResult) cell { return val(float64(s.Failed)) }, val(float64(r.Floor.Failed)))
	return rows
}

func (c cell) String() string {
	if !c.ok {
		return "—"
	}
	switch a := abs(c.v); {
	case a == float64(int64(a)) && a < 1e6:
		return fmt.Sprintf("%.0f", c.v)
	case a >= 100:
		return fmt.Sprintf("%.0f", c.v)
	case a >= 10:
		return fmt.Sprintf("%.1f", c.v)
	default:
		return fmt.Sprintf("%.2f", c.v)
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func ratio(ours, floor cell) string {
	if !ours.ok || !floor.ok || floor.v <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", ours.v/floor.v)
}

// Markdown renders the comparison table, the floor's definition and the
// machine line.
func (r Report) Markdown() string {
	var b strings.Builder
	b.WriteString("| Metric |")
	for _, s := range r.Subjects {
		fmt.Fprintf(&b, " %s |", s.Name)
	}
	b.WriteString(" floor |")
	for _, s := range r.Subjects {
		if len(r.Subjects) == 1 {
			b.WriteString(" ratio |")
		} else {
			fmt.Fprintf(&b, " %s / floor |", s.Name)
		}
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---:|", 2*len(r.Subjects)+1))
	b.WriteString("\n")
	for _, rw := range r.rows() {
		fmt.Fprintf(&b, "| %s |", rw.metric)
		for _, c := range rw.subjects {
			fmt.Fprintf(&b, " %s |", c)
		}
		fmt.Fprintf(&b, " %s |", rw.floor)
		for _, c := range rw.subjects {
			fmt.Fprintf(&b, " %s |", ratio(c, rw.floor))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\nMode %s; %d sequential pods per side (sides alternate in blocks of %d), bursts %v each run %d× (sides alternating; median wall, requests pooled), medians of %d process runs and %d daemon starts; each subject's %d pods are bound to a node of its own, so its daemon caches those only. ",
		r.Mode, r.Params.SeqPods, seqBlock, r.Params.Bursts, max(r.Params.BurstReps, 1), r.Params.ProcRuns, r.Params.Starts, r.Params.podsPerSubject())
	b.WriteString("Floor: " + r.Floor.Description + "\n")
	for _, s := range r.Subjects {
		for _, a := range []struct {
			op  string
			req *APIRequests
		}{{"ADD", s.SeqAddAPI}, {"DEL", s.SeqDelAPI}} {
			if a.req != nil {
				fmt.Fprintf(&b, "\nAPI requests per %s, %s: %s.\n", a.op, s.Name, a.req.breakdown())
			}
		}
	}
	b.WriteString("\nMachine: " + r.Machine.String() + ".\n")
	for _, n := range r.Notes {
		b.WriteString("\nNote: " + n + "\n")
	}
	return b.String()
}
