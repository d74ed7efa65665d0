package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/intervention"
	"ward/internal/mail"
	"ward/internal/testutil"
)

// TestCommunicateDeliversThroughRiver: with SMTP configured, a message
// stored by Communicate is delivered by the River job inserted in the same
// transaction, and its row says sent.
func TestCommunicateDeliversThroughRiver(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		relay := testutil.NewSMTPServer(t, testutil.SMTPOptions{})
		srv := newServer(t, dbURL, func(c *config.Config) {
			c.SMTP = config.SMTP{Host: "127.0.0.1", Port: relay.Port(), From: "ward@clinic.example", TLS: config.SMTPNoTLS}
		})
		testutil.Serve(t, srv, testutil.Listen(t))
		svc := srv.Services()
		sys := actor.System(context.Background())
		p, err := svc.Directory.CreateUser(sys, directory.NewUser{User: directory.User{Email: "pat@example.org"},
			Roles: []string{directory.RolePatient}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Interventions.Create(sys, intervention.Intervention{Name: "care_plan", PublicAccess: true}); err != nil {
			t.Fatal(err)
		}
		res, err := svc.Interventions.Communicate(sys, "care_plan", intervention.CommunicateRequest{
			Protocol: intervention.ProtocolEmail, Users: []int64{p.ID}, Subject: "Reminder", Message: "See you on Monday."})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Messages) != 1 || res.Messages[0].Status != mail.StatusQueued {
			t.Fatalf("result %+v", res)
		}
		relay.Wait()
		data := relay.Messages()
		if len(data) != 1 || !strings.Contains(data[0], "Subject: Reminder\r\n") ||
			!strings.Contains(data[0], "To: <pat@example.org>\r\n") || !strings.Contains(data[0], "See you on Monday.") {
			t.Fatalf("relayed %q", data)
		}
		// The row is marked sent right after the relay accepts it.
		deadline := time.Now().Add(30 * time.Second)
		for {
			m, err := svc.DB.GetMailMessage(sys, res.Messages[0].MessageID)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status == mail.StatusSent && m.Attempts == 1 && m.SentAt != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("message %+v", m)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
