// Package store holds what every storage backend shares with the domains:
// explicit transactions carried in the context, and paging. It has no SQL.
package store

import "context"

// Transactor runs fn in one transaction. The transaction travels in the ctx
// given to fn, so every store call made with that ctx joins it; a nested InTx
// joins the outer transaction. fn's error (or a panic) rolls everything back:
// a change, its audit event and its jobs commit together or not at all.
type Transactor interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// Page asks for at most Limit items after the opaque cursor After.
type Page struct {
	Limit int
	After string
}

// DefaultLimit is used when a Page has no limit; MaxLimit caps any page.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// Normalize returns p with Limit within (0, MaxLimit].
func (p Page) Normalize() Page {
	if p.Limit <= 0 {
		p.Limit = DefaultLimit
	}
	if p.Limit > MaxLimit {
		p.Limit = MaxLimit
	}
	return p
}
