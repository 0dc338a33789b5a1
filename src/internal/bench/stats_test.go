package bench

import (
	"math"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	tests := []struct {
		name   string
		sorted []float64
		q      float64
		want   float64
	}{
		{name: "single value", sorted: []float64{7}, q: 0.5, want: 7},
		{name: "median of odd count", sorted: []float64{1, 2, 3}, q: 0.5, want: 2},
		{name: "median of even count interpolates", sorted: []float64{1, 2, 3, 4}, q: 0.5, want: 2.5},
		{name: "p90 of 1..11", sorted: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, q: 0.9, want: 10},
		{name: "p99 of 1..100 interpolates", sorted: seq(1, 100), q: 0.99, want: 99.01},
		{name: "q=0 is min", sorted: []float64{3, 9}, q: 0, want: 3},
		{name: "q=1 is max", sorted: []float64{3, 9}, q: 1, want: 9},
		{name: "q out of range clamps", sorted: []float64{3, 9}, q: 1.5, want: 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Percentile(tc.sorted, tc.q)
			if math.Abs(got-tc.want) > 1e-9 {
				t.Fatalf("Percentile(%v, %v) = %v, want %v", tc.sorted, tc.q, got, tc.want)
			}
		})
	}
	if got := Percentile(nil, 0.5); !math.IsNaN(got) {
		t.Fatalf("Percentile(nil) = %v, want NaN", got)
	}
}

func seq(from, to int) []float64 {
	var out []float64
	for i := from; i <= to; i++ {
		out = append(out, float64(i))
	}
	return out
}

func TestSummarize(t *testing.T) {
	// Unsorted input: Summarize must sort a copy and keep the samples in order.
	in := []time.Duration{30 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}
	d := Summarize(in)
	if d.N != 4 || d.Min != 10 || d.Max != 40 || d.P50 != 25 || d.Mean != 25 {
		t.Fatalf("Summarize = %+v", d)
	}
	if d.Samples[0] != 30 {
		t.Fatalf("samples reordered: %v", d.Samples)
	}
	empty := Summarize(nil)
	if empty.N != 0 || empty.P50 != 0 {
		t.Fatalf("Summarize(nil) = %+v", empty)
	}
}

func TestMedianInt64(t *testing.T) {
	tests := []struct {
		name string
		in   []int64
		want int64
	}{
		{name: "empty", in: nil, want: 0},
		{name: "odd", in: []int64{5, 1, 3}, want: 3},
		{name: "even takes lower middle", in: []int64{4, 1, 3, 2}, want: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MedianInt64(tc.in); got != tc.want {
				t.Fatalf("MedianInt64(%v) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestMergeBursts(t *testing.T) {
	bs := []Burst{
		{Size: 10, Reps: 1, WallMS: 300, PerRequest: SummarizeMS([]float64{100, 200}), Failed: 1, DaemonPeakRSSKiB: 50, DaemonPeakAnonKiB: 9, DaemonSettledRSSKiB: 40, DelegatesPeakRSSKiB: 70},
		{Size: 10, Reps: 1, WallMS: 100, PerRequest: SummarizeMS([]float64{50}), DaemonPeakRSSKiB: 60, DaemonPeakAnonKiB: 8, DaemonSettledRSSKiB: 45, DelegatesPeakRSSKiB: 65},
		{Size: 10, Reps: 1, WallMS: 200, PerRequest: SummarizeMS([]float64{75}), Failed: 2, DaemonPeakRSSKiB: 55, DaemonPeakAnonKiB: 12, DaemonSettledRSSKiB: 42, DelegatesPeakRSSKiB: 80},
	}
	got := mergeBursts(bs)
	if got.Size != 10 || got.Reps != 3 || got.WallMS != 200 || got.Failed != 3 {
		t.Fatalf("size/reps/wall/failed = %d/%d/%v/%d, want 10/3/200/3", got.Size, got.Reps, got.WallMS, got.Failed)
	}
	if got.PerRequest.N != 4 || got.PerRequest.Min != 50 || got.PerRequest.Max != 200 {
		t.Fatalf("per-request samples not pooled: %+v", got.PerRequest)
	}
	if got.DaemonPeakRSSKiB != 60 || got.DaemonPeakAnonKiB != 12 || got.DelegatesPeakRSSKiB != 80 || got.DaemonSettledRSSKiB != 42 {
		t.Fatalf("peaks/settled = %+v", got)
	}
	if z := mergeBursts(nil); z.Size != 0 || z.Reps != 0 || z.PerRequest.N != 0 {
		t.Fatal("merge of nothing must be the zero Burst")
	}
}
