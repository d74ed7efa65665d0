package mail_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	wmail "ward/internal/mail"
	"ward/internal/testutil"
)

func testMessage() wmail.Message {
	return wmail.Message{From: "ward@clinic.example", To: "pat@example.org", Subject: "Your appointment",
		Body: "Line one\n.\nLine three", MessageID: "ward-1.abc@clinic.example",
		Date: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// sendTo sends testMessage to srv with cfg (Host and Port filled in)
// and returns Send's error once the conversation is over.
func sendTo(t *testing.T, srv *testutil.SMTPServer, cfg wmail.SMTPConfig) error {
	t.Helper()
	srv.ServeOne()
	cfg.Host, cfg.Port = "127.0.0.1", srv.Port()
	tr, err := wmail.NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = tr.Send(context.Background(), testMessage())
	srv.Wait()
	return err
}

func verbs(cmds []testutil.SMTPCommand) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, strings.ToUpper(strings.SplitN(c.Line, " ", 2)[0]))
	}
	return out
}

// TestSMTPWireWithAuth: over a local relay without TLS (allowed for
// localhost only), the transport says EHLO, authenticates with PLAIN, and
// sends one MAIL, one RCPT and the rendered message.
func TestSMTPWireWithAuth(t *testing.T) {
	srv := testutil.NewSMTPServer(t)
	if err := sendTo(t, srv, wmail.SMTPConfig{Username: "ward", Password: "s3cret", TLS: wmail.TLSNone,
		HelloName: "ward.test"}); err != nil {
		t.Fatal(err)
	}
	cmds, data := srv.Conversation()
	if got, want := verbs(cmds), []string{"EHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT"}; !slices.Equal(got, want) {
		t.Fatalf("conversation %v, want %v", got, want)
	}
	if cmds[0].Line != "EHLO ward.test" {
		t.Errorf("greeting %q", cmds[0].Line)
	}
	auth := strings.Fields(cmds[1].Line)
	if len(auth) != 3 || auth[1] != "PLAIN" {
		t.Fatalf("AUTH line %q", cmds[1].Line)
	}
	if cred, _ := base64.StdEncoding.DecodeString(auth[2]); string(cred) != "\x00ward\x00s3cret" {
		t.Errorf("AUTH PLAIN credentials %q", cred)
	}
	if cmds[2].Line != "MAIL FROM:<ward@clinic.example> BODY=8BITMIME" && cmds[2].Line != "MAIL FROM:<ward@clinic.example>" {
		t.Errorf("MAIL line %q", cmds[2].Line)
	}
	if cmds[3].Line != "RCPT TO:<pat@example.org>" {
		t.Errorf("RCPT line %q", cmds[3].Line)
	}
	if len(data) != 1 {
		t.Fatalf("%d messages received", len(data))
	}
	// The line holding a lone "." was dot-stuffed on the wire.
	if !strings.Contains(data[0], "\r\n..\r\n") {
		t.Errorf("a lone dot was not stuffed:\n%s", data[0])
	}
	msg, err := mail.ReadMessage(strings.NewReader(strings.ReplaceAll(data[0], "\r\n..\r\n", "\r\n.\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Subject") != "Your appointment" || msg.Header.Get("To") != "<pat@example.org>" ||
		msg.Header.Get("Message-Id") != "<ward-1.abc@clinic.example>" {
		t.Errorf("headers %v", msg.Header)
	}
}

// TestSMTPRequiresSTARTTLS: in the default mode a server that does not
// offer STARTTLS gets neither the credentials nor the message.
func TestSMTPRequiresSTARTTLS(t *testing.T) {
	srv := testutil.NewSMTPServer(t)
	err := sendTo(t, srv, wmail.SMTPConfig{Username: "ward", Password: "s3cret"})
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("send without STARTTLS: %v", err)
	}
	cmds, data := srv.Conversation()
	for _, v := range verbs(cmds) {
		if v == "AUTH" || v == "MAIL" || v == "DATA" {
			t.Fatalf("%s was sent to a server without STARTTLS: %v", v, verbs(cmds))
		}
	}
	if len(data) != 0 {
		t.Fatal("the message was sent in clear")
	}
}

// TestSMTPSTARTTLS: with STARTTLS the credentials and the message go
// over TLS, checked against the configured roots.
func TestSMTPSTARTTLS(t *testing.T) {
	srv := testutil.NewSMTPServer(t)
	serverTLS, roots := testutil.SelfSigned(t)
	srv.StartTLS = serverTLS
	if err := sendTo(t, srv, wmail.SMTPConfig{Username: "ward", Password: "s3cret",
		TLSConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}); err != nil {
		t.Fatal(err)
	}
	cmds, data := srv.Conversation()
	if got, want := verbs(cmds), []string{"EHLO", "STARTTLS", "EHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT"}; !slices.Equal(got, want) {
		t.Fatalf("conversation %v, want %v", got, want)
	}
	for _, c := range cmds[2:] {
		if !c.TLS {
			t.Errorf("%q was sent in clear", c.Line)
		}
	}
	if len(data) != 1 {
		t.Fatalf("%d messages", len(data))
	}
}

// TestSMTPUntrustedCertificate: STARTTLS with a certificate the roots do
// not trust fails before AUTH.
func TestSMTPUntrustedCertificate(t *testing.T) {
	srv := testutil.NewSMTPServer(t)
	srv.StartTLS, _ = testutil.SelfSigned(t)
	if err := sendTo(t, srv, wmail.SMTPConfig{Username: "ward", Password: "s3cret"}); err == nil {
		t.Fatal("an untrusted certificate was accepted")
	}
	cmds, _ := srv.Conversation()
	if slices.Contains(verbs(cmds), "AUTH") {
		t.Fatal("credentials were sent after a failed TLS handshake")
	}
}

// TestSMTPPermanentAndTransient: a 5xx reply is permanent, a 4xx one is
// worth retrying.
func TestSMTPPermanentAndTransient(t *testing.T) {
	for _, tc := range []struct {
		reply     string
		permanent bool
	}{{"550 no such user", true}, {"451 try later", false}} {
		srv := testutil.NewSMTPServer(t)
		srv.Reply["RCPT"] = tc.reply
		err := sendTo(t, srv, wmail.SMTPConfig{TLS: wmail.TLSNone})
		if err == nil || wmail.Permanent(err) != tc.permanent {
			t.Errorf("reply %q: err %v, permanent %v", tc.reply, err, wmail.Permanent(err))
		}
	}
}

// TestNewSMTPRefusesBadConfig: no host, no port, an unknown TLS mode.
func TestNewSMTPRefusesBadConfig(t *testing.T) {
	for _, c := range []wmail.SMTPConfig{{Port: 25}, {Host: "mx.example", Port: 0}, {Host: "mx.example", Port: 25, TLS: "maybe"}} {
		if _, err := wmail.NewSMTP(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := wmail.ParseTLSMode("ssl"); err == nil {
		t.Error("ssl accepted as a TLS mode")
	}
}
