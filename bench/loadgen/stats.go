package main

import (
	"fmt"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0..100) of sorted, which must be
// in ascending order, by the nearest-rank method: the smallest sample such
// that at least p percent of the samples are less than or equal to it.
// p <= 0 gives the minimum, p >= 100 the maximum, and no samples give 0.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	if p >= 100 {
		return sorted[n-1]
	}
	// p*n first: 90*10/100 is exactly 9, 0.9*10 need not be.
	rank := int(p * float64(n) / 100)
	if float64(rank)*100 < p*float64(n) {
		rank++ // ceil
	}
	rank = max(rank, 1)
	return sorted[rank-1]
}

// summary describes a set of latencies.
type summary struct {
	N    int           `json:"n"`
	Min  time.Duration `json:"min_ns"`
	Mean time.Duration `json:"mean_ns"`
	P50  time.Duration `json:"p50_ns"`
	P90  time.Duration `json:"p90_ns"`
	P99  time.Duration `json:"p99_ns"`
	Max  time.Duration `json:"max_ns"`
}

// summarize sorts lat in place and returns its summary.
func summarize(lat []time.Duration) summary {
	if len(lat) == 0 {
		return summary{}
	}
	slices.Sort(lat)
	var total time.Duration
	for _, d := range lat {
		total += d
	}
	return summary{
		N:    len(lat),
		Min:  lat[0],
		Mean: total / time.Duration(len(lat)),
		P50:  percentile(lat, 50),
		P90:  percentile(lat, 90),
		P99:  percentile(lat, 99),
		Max:  lat[len(lat)-1],
	}
}

// ms formats d as milliseconds with a precision that suits its size.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	switch {
	case f < 10:
		return fmt.Sprintf("%.2f ms", f)
	case f < 100:
		return fmt.Sprintf("%.1f ms", f)
	default:
		return fmt.Sprintf("%.0f ms", f)
	}
}
