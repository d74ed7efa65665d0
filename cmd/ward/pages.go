package main

import "ward/internal/store"

// allPages collects every page a paged list returns, following its cursor
// to the end, so each listing command reads the same way.
func allPages[T any](list func(store.Page) ([]T, string, error)) ([]T, error) {
	var all []T
	p := store.Page{Limit: store.MaxLimit}
	for {
		items, next, err := list(p)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" {
			return all, nil
		}
		p.After = next
	}
}
