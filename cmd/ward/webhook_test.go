package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"ward/internal/config"
	"ward/internal/server"
	"ward/internal/sqlstore"
	"ward/internal/testutil"
)

func TestWebhookCommands(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		c := newCLI(t, dbURL)
		var cl issuedJSON
		if err := json.Unmarshal([]byte(c.must("client", "create", "--name", "Portal", "--grant", "client_credentials",
			"--scope", "system/Patient.rs", "--json")), &cl); err != nil || cl.ClientID == "" {
			t.Fatalf("client create: %+v %v", cl, err)
		}
		var made webhookOut
		out := c.must("webhook", "create", "--client-id", cl.ClientID, "--url", "https://portal.example.org/ward",
			"--event", "user.updated", "--event", "user.created", "--description", "the portal", "--json")
		if err := json.Unmarshal([]byte(out), &made); err != nil {
			t.Fatalf("create --json printed %q: %v", out, err)
		}
		if !strings.HasPrefix(made.ID, "wh_") || !strings.HasPrefix(made.Secret, "whsec_") || made.Status != "enabled" ||
			strings.Join(made.Events, " ") != "user.created user.updated" {
			t.Fatalf("created %+v", made)
		}
		for _, a := range [][]string{{"webhook", "list"}, {"webhook", "list", "--json"},
			{"webhook", "list", "--client-id", cl.ClientID}, {"webhook", "show", made.ID}, {"webhook", "show", made.ID, "--json"}} {
			out := c.must(a...)
			if strings.Contains(out, made.Secret) || strings.Contains(out, "whsec_") {
				t.Fatalf("ward %s printed a secret", strings.Join(a, " "))
			}
			if !strings.Contains(out, made.ID) {
				t.Fatalf("ward %s printed %q", strings.Join(a, " "), out)
			}
		}
		var upd webhookOut
		if err := json.Unmarshal([]byte(c.must("webhook", "update", made.ID, "--url", "https://portal.example.org/v2",
			"--event", "consent.created", "--json")), &upd); err != nil ||
			upd.URL != "https://portal.example.org/v2" || strings.Join(upd.Events, " ") != "consent.created" ||
			upd.Description != "the portal" {
			t.Fatalf("update: %+v %v", upd, err)
		}
		if out := c.must("webhook", "disable", made.ID); !strings.Contains(out, "disabled") {
			t.Fatalf("disable printed %q", out)
		}
		var shown webhookOut
		_ = json.Unmarshal([]byte(c.must("webhook", "show", made.ID, "--json")), &shown)
		if shown.Status != "disabled" || !strings.Contains(shown.DisabledReason, "disabled by") {
			t.Fatalf("after disable: %+v", shown)
		}
		if out := c.must("webhook", "enable", made.ID); !strings.Contains(out, "enabled") {
			t.Fatalf("enable printed %q", out)
		}
		var rot struct {
			Secret            string  `json:"secret"`
			PreviousExpiresAt *string `json:"previous_expires_at"`
		}
		if err := json.Unmarshal([]byte(c.must("webhook", "rotate-secret", made.ID, "--overlap", "1h", "--json")), &rot); err != nil ||
			!strings.HasPrefix(rot.Secret, "whsec_") || rot.Secret == made.Secret || rot.PreviousExpiresAt == nil {
			t.Fatalf("rotate: %+v %v", rot, err)
		}

		// A delivery as the dispatcher writes one, then its log and a replay.
		addCLIDelivery(t, c, dbURL, made.ID)
		if out := c.must("webhook", "deliveries", made.ID); !strings.Contains(out, "user.updated") || !strings.Contains(out, "succeeded") {
			t.Fatalf("deliveries printed %q", out)
		}
		var ds []deliveryOut
		if err := json.Unmarshal([]byte(c.must("webhook", "deliveries", made.ID, "--json")), &ds); err != nil || len(ds) != 1 ||
			ds[0].WebhookIDHeader != "msg_77" {
			t.Fatalf("deliveries --json: %+v %v", ds, err)
		}
		var replay deliveryOut
		if err := json.Unmarshal([]byte(c.must("webhook", "replay", made.ID, fmt.Sprint(ds[0].ID), "--json")), &replay); err != nil ||
			replay.Status != "pending" || replay.EventID != 77 || replay.ID == ds[0].ID {
			t.Fatalf("replay: %+v %v", replay, err)
		}
		if err := json.Unmarshal([]byte(c.must("webhook", "deliveries", made.ID, "--status", "pending", "--json")), &ds); err != nil ||
			len(ds) != 1 || ds[0].ID != replay.ID {
			t.Fatalf("pending deliveries: %+v %v", ds, err)
		}

		for _, bad := range [][]string{
			{"webhook", "create", "--url", "https://x.example.org/", "--event", "user.created"},
			{"webhook", "create", "--client-id", cl.ClientID, "--url", "ftp://x.example.org/", "--event", "user.created"},
			{"webhook", "create", "--client-id", cl.ClientID, "--url", "https://127.0.0.1/", "--event", "user.created"},
			{"webhook", "create", "--client-id", cl.ClientID, "--url", "https://x.example.org/", "--event", "user.exploded"},
			{"webhook", "create", "--client-id", cl.ClientID, "--url", "https://x.example.org/"},
			{"webhook", "create", "--client-id", "nobody", "--url", "https://x.example.org/", "--event", "user.created"},
			{"webhook", "update", made.ID},
			{"webhook", "rotate-secret", made.ID, "--overlap", "200h"},
			{"webhook", "deliveries", made.ID, "--status", "lost"},
			{"webhook", "replay", made.ID, "x"},
			{"webhook", "replay", made.ID, "999"},
			{"webhook", "show", "wh_nosuch"},
		} {
			if code, _, errs := c.run(bad...); code == 0 || errs == "" {
				t.Errorf("ward %s = exit %d stderr %q, want a refusal", strings.Join(bad, " "), code, errs)
			}
		}
		c.must("webhook", "delete", made.ID)
		if code, _, _ := c.run("webhook", "show", made.ID); code == 0 {
			t.Fatal("show after delete succeeded")
		}
	})
}

// addCLIDelivery writes one succeeded delivery of event 77 for webhook id.
func addCLIDelivery(t *testing.T, c cli, dbURL, id string) {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir, cfg.DatabaseURL = c.dir, dbURL
	svc, err := server.OpenServices(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	q := `INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, subject, payload, status, attempts,
		response_status, latency_us, created_at, delivered_at) VALUES (?, 77, 'user.updated', 'Patient/3', '{}', 'succeeded', 1, 204, 1200, 1, 2)`
	if svc.DB.Dialect() == sqlstore.Postgres {
		q = strings.Replace(q, "?", "$1", 1)
	}
	if _, err := svc.DB.Writer().ExecContext(context.Background(), q, id); err != nil {
		t.Fatal(err)
	}
}
