package sqlstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/client"
	"ward/internal/integration"
	"ward/internal/testutil"
)

// TestIntegrationStore checks the integration store on both backends:
// create and read back, the due query and its lease, compare and swap,
// the pushed-token list, and delete (also by the client's deletion).
func TestIntegrationStore(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := testutil.NewStore(t, url)
		now := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
		c := &client.Client{ID: "portal", Settings: client.Settings{Name: "Portal",
			GrantTypes: []string{client.GrantClientCredentials}, AuthMethod: client.AuthClientSecretBasic,
			Scope: "system/Patient.rs", TokenFormat: client.TokenOpaque},
			Status: client.StatusActive, CreatedAt: now, UpdatedAt: now}
		if err := db.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		mk := func(id string, next time.Time) *integration.Integration {
			return &integration.Integration{ID: id, ClientID: "portal", URL: "https://portal.example.org/token",
				SecretSealed: []byte{1, 2, 3}, TokenLifetime: time.Hour, LastStatus: integration.StatusNever,
				NextPushAt: next, CreatedAt: now, UpdatedAt: now}
		}
		a, b := mk("int_a", now), mk("int_b", now.Add(time.Hour))
		for _, it := range []*integration.Integration{a, b} {
			if err := db.CreateIntegration(ctx, it); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.CreateIntegration(ctx, mk("int_a", now)); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("duplicate id: %v, want Conflict", err)
		}
		bad := mk("int_c", now)
		bad.ClientID = "nobody"
		if err := db.CreateIntegration(ctx, bad); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("unknown client: %v, want Invalid", err)
		}
		got, err := db.GetIntegration(ctx, "int_a")
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != 1 || !got.NextPushAt.Equal(a.NextPushAt) || !got.CreatedAt.Equal(a.CreatedAt) ||
			got.TokenLifetime != time.Hour || got.LastStatus != integration.StatusNever || string(got.SecretSealed) != "\x01\x02\x03" {
			t.Fatalf("read back %+v, created %+v", got, a)
		}
		if _, err := db.GetIntegration(ctx, "int_zz"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("missing: %v", err)
		}
		ids := func(its []*integration.Integration) []string {
			var out []string
			for _, it := range its {
				out = append(out, it.ID)
			}
			return out
		}
		due, err := db.DueIntegrations(ctx, now, 10)
		if err != nil || !slices.Equal(ids(due), []string{"int_a"}) {
			t.Fatalf("due at now: %v, %v", ids(due), err)
		}
		// A lease hides it from the sweep; the CAS refuses a stale writer.
		stale := *got
		got.LeaseUntil = now.Add(time.Minute)
		if err := db.UpdateIntegration(ctx, got); err != nil || got.Version != 2 {
			t.Fatalf("claim: %v (version %d)", err, got.Version)
		}
		if err := db.UpdateIntegration(ctx, &stale); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("stale update: %v, want Conflict", err)
		}
		if due, _ := db.DueIntegrations(ctx, now, 10); len(due) != 0 {
			t.Fatalf("due while leased: %v", ids(due))
		}
		if due, _ := db.DueIntegrations(ctx, now.Add(2*time.Hour), 10); !slices.Equal(ids(due), []string{"int_a", "int_b"}) {
			t.Fatalf("due later: %v", ids(due))
		}
		all, err := db.ListIntegrations(ctx)
		if err != nil || len(all) != 2 {
			t.Fatalf("list: %d, %v", len(all), err)
		}

		if err := db.AddPushedToken(ctx, "int_a", 7, now.Add(time.Minute), now); err != nil {
			t.Fatal(err)
		}
		if err := db.AddPushedToken(ctx, "int_a", 8, now.Add(time.Hour), now); err != nil {
			t.Fatal(err)
		}
		live, err := db.LivePushedTokens(ctx, "int_a", now.Add(2*time.Minute))
		if err != nil || !slices.Equal(live, []int64{8}) {
			t.Fatalf("live tokens: %v, %v", live, err)
		}
		if err := db.DeleteIntegration(ctx, "int_a"); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteIntegration(ctx, "int_a"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("delete again: %v", err)
		}
		if live, _ := db.LivePushedTokens(ctx, "int_a", now); len(live) != 0 {
			t.Fatalf("tokens outlived their integration: %v", live)
		}
		// Deleting the client deletes its integrations.
		if _, err := db.Writer().ExecContext(ctx, `DELETE FROM oauth_clients WHERE client_id = 'portal'`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.GetIntegration(ctx, "int_b"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("integration of a deleted client: %v", err)
		}
	})
}
