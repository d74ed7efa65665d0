package bulksource

import (
	"context"
	"errors"
)

// item is one resource from one filter's scan.
type item struct {
	key int64
	res any
}

// stream is one running scan: its items in ascending key order, then its
// error (nil at a clean end) once items is closed.
type stream struct {
	items chan item
	err   chan error
	head  *item
	done  bool
}

// errStopped ends a scan whose merge has finished early.
var errStopped = errors.New("merge stopped")

// merge runs one scan per filter and calls fn for the union, in ascending
// key order, each key once: a _typeFilter is an OR of queries, and a
// resource matching two of them is exported once. One scan runs directly;
// several run side by side, each handing over one resource at a time, so
// memory stays bounded by the number of filters.
func merge[F any](ctx context.Context, after int64, filters []F,
	scan func(ctx context.Context, f F, after int64, emit func(int64, any) error) error,
	fn func(int64, any) error) error {
	if len(filters) == 1 {
		return scan(ctx, filters[0], after, fn)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	streams := make([]*stream, len(filters))
	for i, f := range filters {
		st := &stream{items: make(chan item), err: make(chan error, 1)}
		streams[i] = st
		go func() {
			err := scan(ctx, f, after, func(k int64, r any) error {
				select {
				case st.items <- item{k, r}:
					return nil
				case <-ctx.Done():
					return errStopped
				}
			})
			close(st.items)
			st.err <- err
		}()
	}
	// wait drains every scan before returning, so none outlives the call.
	wait := func(first error) error {
		cancel()
		err := first
		for _, st := range streams {
			if !st.done {
				for range st.items {
				}
			}
			if e := <-st.err; e != nil && !errors.Is(e, errStopped) && err == nil {
				err = e
			}
		}
		return err
	}
	pull := func(st *stream) {
		if it, ok := <-st.items; ok {
			st.head = &it
		} else {
			st.head, st.done = nil, true
		}
	}
	for _, st := range streams {
		pull(st)
	}
	last := after
	for {
		var min *stream
		for _, st := range streams {
			if st.head != nil && (min == nil || st.head.key < min.head.key) {
				min = st
			}
		}
		if min == nil {
			return wait(nil)
		}
		it := *min.head
		pull(min)
		if it.key <= last {
			continue // the same resource through another filter
		}
		last = it.key
		if err := fn(it.key, it.res); err != nil {
			return wait(err)
		}
	}
}
