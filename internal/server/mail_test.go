package server_test

import (
	"bufio"
	"context"
	"net"
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

// relay is a one-message SMTP relay on 127.0.0.1: it accepts anything
// and hands the DATA it receives to got.
func relay(t *testing.T) (port int, got <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	ch := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer func() { _ = conn.Close() }()
		r := bufio.NewReader(conn)
		say := func(s string) { _, _ = conn.Write([]byte(s + "\r\n")) }
		say("220 relay.test ESMTP")
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch strings.ToUpper(strings.Fields(line + " x")[0]) {
			case "EHLO":
				say("250 relay.test")
			case "DATA":
				say("354 go on")
				var b strings.Builder
				for {
					l, err := r.ReadString('\n')
					if err != nil || l == ".\r\n" {
						break
					}
					b.WriteString(l)
				}
				say("250 queued")
				ch <- b.String()
			case "QUIT":
				say("221 bye")
				return
			default:
				say("250 ok")
			}
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, ch
}

// TestCommunicateDeliversThroughRiver: with SMTP configured, a message
// stored by Communicate is delivered by the River job inserted in the same
// transaction, and its row says sent.
func TestCommunicateDeliversThroughRiver(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		port, got := relay(t)
		srv := newServer(t, dbURL, func(c *config.Config) {
			c.SMTP = config.SMTP{Host: "127.0.0.1", Port: port, From: "ward@clinic.example", TLS: config.SMTPNoTLS}
		})
		ctx, cancel := context.WithCancel(context.Background())
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx, ln) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
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
		select {
		case data := <-got:
			if !strings.Contains(data, "Subject: Reminder\r\n") || !strings.Contains(data, "To: <pat@example.org>\r\n") ||
				!strings.Contains(data, "See you on Monday.") {
				t.Fatalf("relayed\n%s", data)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("the message never reached the relay")
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
