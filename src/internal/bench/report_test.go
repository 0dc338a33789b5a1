package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

func sampleReport() Report {
	ms := func(vs ...float64) Dist { return SummarizeMS(vs) }
	return Report{
		Mode:    "quick",
		Machine: Machine{CPU: "Test CPU", Cores: 2, MemMiB: 24 * 1024, Kernel: "6.18", Go: "go1.26"},
		Params:  Params{SeqPods: 3, Bursts: []int{10}, ProcRuns: 5, Starts: 2, ForeignPods: 5000, ForeignNADs: 500},
		Subjects: []SubjectResult{{
			Name: "multus-thick",
			Side: Side{
				SeqAdd:    ms(40, 42, 44),
				SeqDel:    ms(20, 21, 22),
				SeqAddCPU: CPUCost{Ops: 3, Daemon: 2, Delegates: 10, Shim: 1, ControlPlane: 3},
				SeqAddAPI: &APIRequests{Ops: 3, PerOp: 4, ByVerbResource: map[string]float64{"create events": 2, "get pods": 1, "patch pods": 1}},
				Bursts:    []Burst{{Size: 10, WallMS: 120, PerRequest: ms(50, 60, 70), DaemonPeakRSSKiB: 40 * 1024, DaemonSettledRSSKiB: 30 * 1024, DelegatesPeakRSSKiB: 50 * 1024}},
				Version:   ProcCost{Runs: 5, Wall: ms(2, 3, 4), MaxRSSKiB: 8 * 1024},
			},
			StartToReady: ms(300, 310),
			IdleRSSKiB:   20 * 1024,
		}},
		Floor: FloorResult{
			Description: "bridge+host-local, then macvlan, through libcni",
			Side: Side{
				SeqAdd:    ms(30, 31, 32),
				SeqDel:    ms(10, 10, 10),
				SeqAddCPU: CPUCost{Ops: 3, Delegates: 8, ControlPlane: 0.5},
				Bursts:    []Burst{{Size: 10, WallMS: 100, PerRequest: ms(40, 45, 50), DelegatesPeakRSSKiB: 45 * 1024}},
				Version:   ProcCost{Runs: 5, Wall: ms(1, 1, 1), MaxRSSKiB: 4 * 1024},
			},
		},
		Notes: []string{"a note"},
	}
}

func TestMarkdown(t *testing.T) {
	md := sampleReport().Markdown()
	wantLines := []string{
		"| Metric | multus-thick | floor | ratio |",
		"|---|---:|---:|---:|",
		"| Sequential ADD p50 (ms) | 42 | 31 | 1.35× |",
		"| ADD overhead over the floor, p50 (ms) | 11 | — | — |",
		"| API requests per sequential ADD | 4 | — | — |",
		"| API requests per sequential DEL | — | — | — |",
		"API requests per ADD, multus-thick: 2 create events, 1 get pods, 1 patch pods.",
		"| CPU per sequential ADD, daemon (ms) | 2 | — | — |",
		"| CPU per sequential ADD, delegates (ms) | 10 | 8 | 1.25× |",
		"| CPU per sequential ADD, kube-apiserver + etcd (ms) | 3 | 0.50 | 6.00× |",
		"| CPU per sequential ADD, total (ms) | 16 | 8.50 | 1.88× |",
		"| Sequential DEL p50 (ms) | 21 | 10 | 2.10× |",
		"| Burst 10 ADDs: wall (ms) | 120 | 100 | 1.20× |",
		"| Burst 10 ADDs: daemon peak RSS (MiB) | 40 | — | — |",
		"| Burst 10 ADDs: delegates peak RSS, sampled sum (MiB) | 50 | 45 | 1.11× |",
		"| Daemon idle RSS, empty cluster (MiB) | 20 | — | — |",
		"| Daemon idle RSS, 5000 foreign pods + 500 NADs (MiB) | — | — | — |",
		"| Daemon start to ready p50, empty cluster (ms) | 305 | — | — |",
		"| Shim VERSION wall p50 (ms) | 3 | 1 | 3.00× |",
		"| Shim VERSION peak RSS (MiB) | 8 | 4 | 2.00× |",
		"| DEL of an unknown container, wall p50 (ms) | — | — | — |",
		"| Failed invocations (all phases) | 0 | 0 | — |",
		"Machine: Test CPU, 2 cores, 24 GiB RAM, Linux 6.18, go1.26.",
		"Note: a note",
	}
	for _, w := range wantLines {
		if !strings.Contains(md, w+"\n") {
			t.Errorf("markdown lacks line %q\n%s", w, md)
		}
	}
	// Every table row has the same number of cells as the header.
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "|") && strings.Count(line, "|") != 5 {
			t.Errorf("row with %d pipes: %q", strings.Count(line, "|"), line)
		}
	}
}

func TestMarkdownTwoSubjects(t *testing.T) {
	r := sampleReport()
	other := r.Subjects[0]
	other.Name = "upstream"
	r.Subjects = append(r.Subjects, other)
	md := r.Markdown()
	if !strings.Contains(md, "| Metric | multus-thick | upstream | floor | multus-thick / floor | upstream / floor |\n") {
		t.Fatalf("header for two subjects wrong:\n%s", md)
	}
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "|") && strings.Count(line, "|") != 7 {
			t.Errorf("row with %d pipes: %q", strings.Count(line, "|"), line)
		}
	}
}

func TestCellString(t *testing.T) {
	tests := []struct {
		name string
		c    cell
		want string
	}{
		{name: "missing", c: none, want: "—"},
		{name: "integer", c: val(42), want: "42"},
		{name: "small", c: val(1.234), want: "1.23"},
		{name: "tens", c: val(12.34), want: "12.3"},
		{name: "hundreds", c: val(123.4), want: "123"},
		{name: "negative overhead", c: val(-0.5), want: "-0.50"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.String(); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReportJSONRoundTrip(t *testing.T) {
	r := sampleReport()
	// An empty Dist must encode: encoding/json rejects NaN.
	r.Subjects[0].StartToReadyLoaded = Summarize(nil)
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Subjects[0].SeqAdd.P50 != 42 || back.Floor.Bursts[0].WallMS != 100 {
		t.Fatalf("round trip lost values: %+v", back)
	}
}

func TestRenderECDF(t *testing.T) {
	r := sampleReport()
	// 199 values near 30 ms and one outlier: p99 stays low, the outlier is clipped.
	vals := make([]float64, 0, 200)
	for i := range 199 {
		vals = append(vals, 30+float64(i%3))
	}
	r.Floor.SeqAdd = SummarizeMS(append(vals, 900))
	svg := RenderECDF(r.PlotPanels())

	// Well-formed XML whose root is <svg>, with one polyline per non-empty series.
	dec := xml.NewDecoder(bytes.NewReader(svg))
	var root string
	polylines := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "polyline" {
				polylines++
			}
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	// Sequential ADD (2 series), DEL (2), burst of 10 (2).
	if polylines != 6 {
		t.Fatalf("%d polylines, want 6", polylines)
	}
	for _, want := range []string{"Sequential ADD (clipped at", "Burst of 10 ADDs, per request", "multus-thick (n=3)", "floor (n=200)"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

func TestNiceCeilAndTicks(t *testing.T) {
	tests := []struct {
		in, want float64
	}{{0.7, 1}, {1, 1}, {1.2, 2}, {3, 5}, {7, 10}, {46, 50}, {120, 200}}
	for _, tc := range tests {
		if got := niceCeil(tc.in); got != tc.want {
			t.Errorf("niceCeil(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	got := ticks(50)
	want := []float64{0, 10, 20, 30, 40, 50}
	if len(got) != len(want) {
		t.Fatalf("ticks(50) = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ticks(50) = %v, want %v", got, want)
		}
	}
}
