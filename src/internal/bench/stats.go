package bench

import (
	"math"
	"slices"
	"time"
)

// Dist summarises a latency sample in milliseconds.
type Dist struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	Min  float64 `json:"min_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
	// Samples keeps every observation (ms, in the order taken) so the plot
	// and later analyses do not depend on the summary chosen here.
	Samples []float64 `json:"samples_ms,omitempty"`
}

// Percentile returns the q-th quantile (0 <= q <= 1) of sorted values by
// linear interpolation between closest ranks (the "type 7" estimator that
// numpy and R use by default). It returns NaN for an empty sample.
func Percentile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	if q <= 0 {
		return sorted[0]
	}
	if q >= 1 {
		return sorted[n-1]
	}
	pos := q * float64(n-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, n-1)
	frac := pos - float64(lo)
	return sorted[lo] + frac*(sorted[hi]-sorted[lo])
}

// Summarize builds a Dist from durations.
func Summarize(ds []time.Duration) Dist {
	ms := make([]float64, len(ds))
	for i, d := range ds {
		ms[i] = float64(d) / float64(time.Millisecond)
	}
	return SummarizeMS(ms)
}

// SummarizeMS builds a Dist from values already in milliseconds.
func SummarizeMS(ms []float64) Dist {
	d := Dist{N: len(ms), Samples: slices.Clone(ms)}
	if len(ms) == 0 {
		// All-zero with N == 0: encoding/json cannot encode NaN.
		return d
	}
	sorted := slices.Clone(ms)
	slices.Sort(sorted)
	var sum float64
	for _, v := range sorted {
		sum += v
	}
	d.P50 = Percentile(sorted, 0.50)
	d.P90 = Percentile(sorted, 0.90)
	d.P99 = Percentile(sorted, 0.99)
	d.Min = sorted[0]
	d.Max = sorted[len(sorted)-1]
	d.Mean = sum / float64(len(sorted))
	return d
}

// MedianInt64 returns the median of vs (the lower middle for an even count,
// so the result is always an observed value); 0 for an empty slice.
func MedianInt64(vs []int64) int64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}
