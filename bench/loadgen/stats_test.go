package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	seq := func(n int) []time.Duration {
		s := make([]time.Duration, n)
		for i := range s {
			s[i] = time.Duration(i + 1)
		}
		return s
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample p50", seq(1), 50, 1},
		{"one sample p99", seq(1), 99, 1},
		{"p0 is the minimum", seq(10), 0, 1},
		{"p100 is the maximum", seq(10), 100, 10},
		{"above 100 is the maximum", seq(10), 150, 10},
		{"p50 of 10", seq(10), 50, 5},
		{"p90 of 10 is exact", seq(10), 90, 9},
		{"p91 of 10 rounds up", seq(10), 91, 10},
		{"p50 of 4", seq(4), 50, 2},
		{"p50 of 5", seq(5), 50, 3},
		{"p99 of 100", seq(100), 99, 99},
		{"p99 of 1000", seq(1000), 99, 990},
		{"p99.9 of 1000", seq(1000), 99.9, 999},
		{"p1 of 1000", seq(1000), 1, 10},
		{"tiny p is the first", seq(1000), 0.001, 1},
	}
	for _, tt := range tests {
		if got := percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("%s: percentile(n=%d, %v) = %v, want %v", tt.name, len(tt.sorted), tt.p, got, tt.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	if s := summarize(nil); s != (summary{}) {
		t.Fatalf("summarize(nil) = %+v, want zero", s)
	}
	// 100 samples, 1..100 ms, shuffled.
	lat := make([]time.Duration, 0, 100)
	for i := 100; i >= 1; i -= 2 {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	for i := 1; i <= 100; i += 2 {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	s := summarize(lat)
	want := summary{N: 100, Min: time.Millisecond, Mean: 50500 * time.Microsecond,
		P50: 50 * time.Millisecond, P90: 90 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if s != want {
		t.Fatalf("summarize = %+v, want %+v", s, want)
	}
	for i := 1; i < len(lat); i++ {
		if lat[i] < lat[i-1] {
			t.Fatalf("summarize left the samples unsorted at %d", i)
		}
	}
}

func TestMS(t *testing.T) {
	for d, want := range map[time.Duration]string{
		1234 * time.Microsecond: "1.23 ms",
		42 * time.Millisecond:   "42.0 ms",
		1500 * time.Millisecond: "1500 ms",
		0:                       "0.00 ms",
	} {
		if got := ms(d); got != want {
			t.Errorf("ms(%v) = %q, want %q", d, got, want)
		}
	}
}
