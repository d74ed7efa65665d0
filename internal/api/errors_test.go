package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"ward/internal/apperr"
)

func TestProblem(t *testing.T) {
	secret := errors.New("pq: relation users_secret_table does not exist")
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantDetail string
	}{
		{"invalid", apperr.New(apperr.Invalid, "unknown role %q", "wizard"), 400, `unknown role "wizard"`},
		{"not found", apperr.New(apperr.NotFound, "no such user"), 404, "no such user"},
		{"conflict", apperr.New(apperr.Conflict, "already held"), 409, "already held"},
		{"unauthenticated", apperr.New(apperr.Unauthenticated, "sign in required"), 401, "sign in required"},
		{"forbidden", apperr.New(apperr.Forbidden, "not yours"), 403, "not yours"},
		{"too large", apperr.New(apperr.TooLarge, "too big"), 413, "too big"},
		{"rate limited", apperr.New(apperr.RateLimited, "wait"), 429, "wait"},
		{"unavailable", apperr.Wrap(apperr.Unavailable, secret, "the database is unavailable; retry shortly"), 503, "the database is unavailable; retry shortly"},
		{"wrapped apperr keeps its kind", fmt.Errorf("handler: %w", apperr.Wrap(apperr.Conflict, secret, "taken")), 409, "taken"},
		{"internal apperr hides its message", apperr.Wrap(apperr.Internal, secret, "store failed"), 500, genericInternal},
		{"plain error is internal", secret, 500, genericInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logged bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logged, nil))
			err := problem(context.Background(), log, tt.err)
			var em *huma.ErrorModel
			if !errors.As(err, &em) {
				t.Fatalf("problem returned %T, want a *huma.ErrorModel", err)
			}
			if em.Status != tt.wantStatus || em.Title != http.StatusText(tt.wantStatus) || em.Detail != tt.wantDetail {
				t.Errorf("got %d %q %q, want %d %q", em.Status, em.Title, em.Detail, tt.wantStatus, tt.wantDetail)
			}
			if strings.Contains(em.Detail, "users_secret_table") {
				t.Errorf("detail leaks the cause: %q", em.Detail)
			}
			if tt.wantStatus == 500 && !strings.Contains(logged.String(), "users_secret_table") {
				t.Errorf("the cause of a 500 was not logged: %q", logged.String())
			}
			if tt.wantStatus != 500 && logged.Len() != 0 {
				t.Errorf("a %d was logged as an internal error: %q", tt.wantStatus, logged.String())
			}
		})
	}
}
