package connector_test

import (
	"context"
	"errors"
	"testing"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/connector"
	"ward/internal/testutil"
)

// TestCallGuard: a pass-through call is an administrator's, on a connected
// connector, and leaves one connector.called event; everyone else and an
// unprimed connector are refused before anything is recorded.
func TestCallGuard(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		r := e.replica()
		if _, err := r.svc.Create(admin(), settings(e.mis)); err != nil {
			t.Fatal(err)
		}
		if err := r.svc.Call(admin(), "campdoc", "mis-get-profile"); !errors.Is(err, connector.ErrDisconnected) ||
			!apperr.Is(err, apperr.Unavailable) {
			t.Fatalf("Call on an unprimed connector: %v, want Unavailable ErrDisconnected", err)
		}
		if err := r.svc.Delete(admin(), "campdoc"); err != nil {
			t.Fatal(err)
		}
		e.prime(r)
		staff := actor.With(context.Background(), actor.Actor{UserID: staffID})
		for _, c := range []struct {
			ctx      context.Context
			name, op string
			want     apperr.Kind
			what     string
		}{
			{staff, "campdoc", "op", apperr.Forbidden, "staff"},
			{context.Background(), "campdoc", "op", apperr.Unauthenticated, "anonymous"},
			{admin(), "Bad Name", "op", apperr.Invalid, "bad name"},
			{admin(), "campdoc", "", apperr.Invalid, "no operation"},
			{admin(), "nope", "op", apperr.NotFound, "no connector"},
		} {
			if err := r.svc.Call(c.ctx, c.name, c.op); !apperr.Is(err, c.want) {
				t.Fatalf("%s: %v, want %v", c.what, err, c.want)
			}
		}
		if got := e.events(audit.ConnectorCalled); got != 0 {
			t.Fatalf("refused calls recorded %d events", got)
		}
		if err := r.svc.Call(admin(), "campdoc", "mis-get-profile"); err != nil {
			t.Fatalf("admin Call: %v", err)
		}
		if got := e.events(audit.ConnectorCalled); got != 1 {
			t.Fatalf("%d connector.called events, want 1", got)
		}
	})
}
