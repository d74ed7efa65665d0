// Package actor carries who is acting (a person, a client acting for a person,
// or the system itself) through a context, so access checks and audit read
// the same answer.
package actor

import "context"

// Actor is the party behind a request or a job.
type Actor struct {
	// UserID is the person acting (or on whose behalf a client acts); 0 for none.
	UserID int64
	// ClientID is the OAuth client acting, if any.
	ClientID string
	// System is true for ward itself (CLI bootstrap, jobs); it bypasses permission checks.
	System bool
	// Scopes are the granted scopes when acting through a token; nil for a session.
	Scopes []string
	// Patient is the launch patient of a SMART token (launch/patient), the
	// user id whose compartment patient/ scopes reach; 0 for none.
	Patient int64
}

// Anonymous reports whether nobody is signed in.
func (a Actor) Anonymous() bool { return a.UserID == 0 && a.ClientID == "" && !a.System }

type ctxKey struct{}

// With returns ctx carrying a.
func With(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, ctxKey{}, a)
}

// From returns the actor in ctx, or the anonymous actor.
func From(ctx context.Context) Actor {
	a, _ := ctx.Value(ctxKey{}).(Actor)
	return a
}

// System returns ctx acting as ward itself.
func System(ctx context.Context) context.Context { return With(ctx, Actor{System: true}) }

type addrKey struct{}

// WithAddr returns ctx carrying the address the request came from (the
// client address as httpauth.ClientIP reads it, trusted proxies honoured),
// kept apart from the Actor so authenticating a request, which replaces
// the actor, keeps it. The audit trail stamps it on every event.
func WithAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, addrKey{}, addr)
}

// Addr returns the request address in ctx, "" for none (a job, the CLI).
func Addr(ctx context.Context) string {
	a, _ := ctx.Value(addrKey{}).(string)
	return a
}
