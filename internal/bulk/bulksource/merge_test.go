package bulksource

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// scanOf scans a sorted key list after a key.
func scanOf(_ context.Context, keys []int64, after int64, emit func(int64, any) error) error {
	for _, k := range keys {
		if k <= after {
			continue
		}
		if err := emit(k, k); err != nil {
			return err
		}
	}
	return nil
}

func TestMergeIsTheOrderedUnion(t *testing.T) {
	filters := [][]int64{{1, 4, 6, 9}, {2, 4, 9, 10}, {}, {3}}
	var got []int64
	err := merge(context.Background(), 1, filters, scanOf, func(k int64, _ any) error {
		got = append(got, k)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{2, 3, 4, 6, 9, 10}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v (ascending, each once, after 1)", got, want)
	}
}

func TestMergeStopsOnTheCallersError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := merge(context.Background(), 0, [][]int64{{1, 3, 5}, {2, 4, 6}}, scanOf, func(int64, any) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("err %v after %d calls, want stop after 3", err, n)
	}
}

func TestMergeReportsAScanError(t *testing.T) {
	broken := errors.New("disk on fire")
	scan := func(ctx context.Context, keys []int64, after int64, emit func(int64, any) error) error {
		if len(keys) == 0 {
			return broken
		}
		return scanOf(ctx, keys, after, emit)
	}
	err := merge(context.Background(), 0, [][]int64{{1, 2}, {}}, scan, func(int64, any) error { return nil })
	if !errors.Is(err, broken) {
		t.Errorf("err %v, want the scan's error", err)
	}
}
