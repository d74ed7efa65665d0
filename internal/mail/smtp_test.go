package mail_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"log/slog"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	wmail "ward/internal/mail"
	"ward/internal/testutil"
)

func testMessage() wmail.Message {
	return wmail.Message{From: "ward@clinic.example", To: "pat@example.org", Subject: "Your appointment",
		Body: "Line one\n.\nLine three", MessageID: "ward-1.abc@clinic.example",
		Date: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// sendTo sends testMessage to srv with cfg (Host and Port filled in) and
// returns Send's error.
func sendTo(t *testing.T, srv *testutil.SMTPServer, cfg wmail.SMTPConfig) error {
	t.Helper()
	cfg.Host, cfg.Port = "127.0.0.1", srv.Port()
	tr, err := wmail.NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr.Send(context.Background(), testMessage())
}

// oneSession is the server's only session, after it ended.
func oneSession(t *testing.T, srv *testutil.SMTPServer) testutil.SMTPSession {
	t.Helper()
	srv.Wait()
	ss := srv.Sessions()
	if len(ss) != 1 {
		t.Fatalf("%d sessions, want 1", len(ss))
	}
	return ss[0]
}

// trusting is a client TLS configuration that trusts roots.
func trusting(roots *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
}

// TestSMTPDeliversWithAuthPlain: over a local relay without TLS (allowed
// for localhost only), the transport says EHLO with its name,
// authenticates with PLAIN, and delivers one message to one recipient
// with ward's headers and the body intact.
func TestSMTPDeliversWithAuthPlain(t *testing.T) {
	srv := testutil.NewSMTPServer(t, testutil.SMTPOptions{})
	if err := sendTo(t, srv, wmail.SMTPConfig{Username: "ward", Password: "s3cret", TLS: wmail.TLSNone,
		HelloName: "ward.test"}); err != nil {
		t.Fatal(err)
	}
	s := oneSession(t, srv)
	if s.Hello != "ward.test" {
		t.Errorf("EHLO %q", s.Hello)
	}
	if s.AuthMech != "PLAIN" || s.Username != "ward" || s.Password != "s3cret" {
		t.Errorf("AUTH %s %q %q", s.AuthMech, s.Username, s.Password)
	}
	if s.From != "ward@clinic.example" || !slices.Equal(s.To, []string{"pat@example.org"}) {
		t.Errorf("envelope %q -> %q", s.From, s.To)
	}
	if len(s.Data) != 1 {
		t.Fatalf("%d messages received", len(s.Data))
	}
	msg, err := mail.ReadMessage(strings.NewReader(s.Data[0]))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	if h.Get("Subject") != "Your appointment" || h.Get("From") != "<ward@clinic.example>" ||
		h.Get("To") != "<pat@example.org>" || h.Get("Message-Id") != "<ward-1.abc@clinic.example>" ||
		h.Get("Date") != "Fri, 02 Jan 2026 03:04:05 +0000" || h.Get("Content-Transfer-Encoding") != "quoted-printable" ||
		!strings.EqualFold(h.Get("Content-Type"), "text/plain; charset=utf-8") {
		t.Errorf("headers %v", h)
	}
	if h.Get("User-Agent") != "" || h.Get("X-Mailer") != "" {
		t.Errorf("the mail library named itself: %v", h)
	}
	// The line holding a lone "." survived (dot-stuffed on the wire,
	// unstuffed by the server), and line ends are CRLF.
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimRight(string(body), "\r\n"); got != "Line one\r\n.\r\nLine three" {
		t.Errorf("body %q", got)
	}
}

// TestSMTPAuthLogin: a server that offers only LOGIN gets LOGIN.
func TestSMTPAuthLogin(t *testing.T) {
	srv := testutil.NewSMTPServer(t, testutil.SMTPOptions{AuthMechs: []string{"LOGIN"}})
	if err := sendTo(t, srv, wmail.SMTPConfig{Username: "ward", Password: "s3cret", TLS: wmail.TLSNone}); err != nil {
		t.Fatal(err)
	}
	s := oneSession(t, srv)
	if s.AuthMech != "LOGIN" || s.Username != "ward" || s.Password != "s3cret" || len(s.Data) != 1 {
		t.Errorf("session %+v", s)
	}
}

// TestSMTPRequiresSTARTTLS: in the default mode a server that does not
// offer STARTTLS gets neither the credentials nor the message, and the
// failure is not permanent (the server may be fixed).
func TestSMTPRequiresSTARTTLS(t *testing.T) {
	srv := testutil.NewSMTPServer(t, testutil.SMTPOptions{})
	err := sendTo(t, srv, wmail.SMTPConfig{Username: "ward", Password: "s3cret"})
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") || wmail.Permanent(err) {
		t.Fatalf("send without STARTTLS: %v (permanent %v)", err, wmail.Permanent(err))
	}
	s := oneSession(t, srv)
	if s.Username != "" || s.Password != "" || s.From != "" || len(s.Data) != 0 {
		t.Fatalf("a server without STARTTLS got %+v", s)
	}
}

// TestSMTPSTARTTLS: with STARTTLS the credentials and the message go
// over TLS, checked against the configured roots.
func TestSMTPSTARTTLS(t *testing.T) {
	serverTLS, roots := testutil.SelfSigned(t)
	srv := testutil.NewSMTPServer(t, testutil.SMTPOptions{StartTLS: serverTLS})
	if err := sendTo(t, srv, wmail.SMTPConfig{Username: "ward", Password: "s3cret", TLSConfig: trusting(roots)}); err != nil {
		t.Fatal(err)
	}
	s := oneSession(t, srv)
	if !s.AuthTLS || !s.MailTLS || s.Password != "s3cret" || len(s.Data) != 1 {
		t.Fatalf("session %+v", s)
	}
}

// TestSMTPImplicitTLS: mode tls speaks TLS from the first byte.
func TestSMTPImplicitTLS(t *testing.T) {
	serverTLS, roots := testutil.SelfSigned(t)
	srv := testutil.NewSMTPServer(t, testutil.SMTPOptions{Implicit: serverTLS})
	if err := sendTo(t, srv, wmail.SMTPConfig{Username: "ward", Password: "s3cret", TLS: wmail.TLSImplicit,
		TLSConfig: trusting(roots)}); err != nil {
		t.Fatal(err)
	}
	s := oneSession(t, srv)
	if s.AuthMech != "PLAIN" || !s.AuthTLS || !s.MailTLS || s.Password != "s3cret" || len(s.Data) != 1 {
		t.Fatalf("session %+v", s)
	}
}

// TestSMTPUntrustedCertificate: a certificate the roots do not trust
// stops the conversation before AUTH, with STARTTLS and implicit TLS.
func TestSMTPUntrustedCertificate(t *testing.T) {
	for _, mode := range []wmail.TLSMode{wmail.TLSStartTLS, wmail.TLSImplicit} {
		serverTLS, _ := testutil.SelfSigned(t)
		_, otherRoots := testutil.SelfSigned(t)
		opts := testutil.SMTPOptions{StartTLS: serverTLS}
		if mode == wmail.TLSImplicit {
			opts = testutil.SMTPOptions{Implicit: serverTLS}
		}
		srv := testutil.NewSMTPServer(t, opts)
		err := sendTo(t, srv, wmail.SMTPConfig{Username: "ward", Password: "s3cret", TLS: mode, TLSConfig: trusting(otherRoots)})
		if err == nil {
			t.Fatalf("%s: an untrusted certificate was accepted", mode)
		}
		for _, s := range srv.Sessions() {
			if s.Password != "" || s.From != "" || len(s.Data) != 0 {
				t.Fatalf("%s: after a failed handshake the server got %+v", mode, s)
			}
		}
	}
}

// TestSMTPPermanentAndTransient: a 5xx reply at any step is permanent, a
// 4xx one or a network failure is worth retrying.
func TestSMTPPermanentAndTransient(t *testing.T) {
	for _, tc := range []struct {
		verb      string
		code      int
		permanent bool
	}{
		{"RCPT", 550, true}, {"RCPT", 451, false},
		{"MAIL", 553, true}, {"MAIL", 421, false},
		{"DATA", 554, true}, {"DATA", 452, false},
		{"AUTH", 535, true}, {"AUTH", 454, false},
	} {
		srv := testutil.NewSMTPServer(t, testutil.SMTPOptions{Reject: map[string]*smtp.SMTPError{
			tc.verb: {Code: tc.code, EnhancedCode: smtp.NoEnhancedCode, Message: "refused by the test"}}})
		err := sendTo(t, srv, wmail.SMTPConfig{Username: "ward", Password: "s3cret", TLS: wmail.TLSNone})
		if err == nil || wmail.Permanent(err) != tc.permanent {
			t.Errorf("%s %d: err %v, permanent %v", tc.verb, tc.code, err, wmail.Permanent(err))
		}
		// The outbox stores and logs the error; recipients are named
		// there by user id, not by address.
		if err != nil && strings.Contains(strings.ToLower(err.Error()), "pat@example.org") {
			t.Errorf("%s %d: the error names the recipient: %v", tc.verb, tc.code, err)
		}
	}

	// Nothing listens on a closed port.
	ln := testutil.Listen(t)
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	tr, err := wmail.NewSMTP(wmail.SMTPConfig{Host: "127.0.0.1", Port: port, TLS: wmail.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Send(context.Background(), testMessage()); err == nil || wmail.Permanent(err) {
		t.Errorf("connection refused: err %v, permanent %v", err, wmail.Permanent(err))
	}
}

// TestSMTPHonoursContext: a server that accepts the connection and never
// greets is given up on when the caller's context ends.
func TestSMTPHonoursContext(t *testing.T) {
	ln := testutil.Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer func() { _ = conn.Close() }()
		cancel()
		_, _ = io.Copy(io.Discard, conn) // until the client hangs up
	}()
	tr, err := wmail.NewSMTP(wmail.SMTPConfig{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, TLS: wmail.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Send(ctx, testMessage()); err == nil || wmail.Permanent(err) {
		t.Fatalf("send on a cancelled context: err %v, permanent %v", err, wmail.Permanent(err))
	}
}

// TestSMTPLogsNoContent: neither a delivery nor a refused one writes the
// subject or the body to any log, and the error (which the outbox stores
// and logs) holds neither.
func TestSMTPLogsNoContent(t *testing.T) {
	var logs bytes.Buffer
	prevSlog, prevLog := slog.Default(), log.Writer()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	log.SetOutput(&logs)
	t.Cleanup(func() { slog.SetDefault(prevSlog); log.SetOutput(prevLog) })

	m := testMessage()
	m.Subject, m.Body = "Diagnosis: secret-subject", "secret-body"
	ok := testutil.NewSMTPServer(t, testutil.SMTPOptions{})
	refusing := testutil.NewSMTPServer(t, testutil.SMTPOptions{Reject: map[string]*smtp.SMTPError{
		"DATA": {Code: 554, EnhancedCode: smtp.NoEnhancedCode, Message: "no"}}})
	for i, srv := range []*testutil.SMTPServer{ok, refusing} {
		tr, err := wmail.NewSMTP(wmail.SMTPConfig{Host: "127.0.0.1", Port: srv.Port(), TLS: wmail.TLSNone})
		if err != nil {
			t.Fatal(err)
		}
		err = tr.Send(context.Background(), m)
		if (err == nil) != (i == 0) {
			t.Fatalf("server %d: %v", i, err)
		}
		if err != nil && (strings.Contains(err.Error(), "secret-subject") || strings.Contains(err.Error(), "secret-body")) {
			t.Errorf("the error holds the message: %v", err)
		}
		srv.Wait()
	}
	if got := ok.Messages(); len(got) != 1 || !strings.Contains(got[0], "secret-body") {
		t.Fatalf("messages %q", got)
	}
	if strings.Contains(logs.String(), "secret-") {
		t.Errorf("logged:\n%s", logs.String())
	}
}

// TestSMTPRefusesHeaderInjection: ward's own checks stop a message with a
// line break in a header before any connection, as a permanent failure.
func TestSMTPRefusesHeaderInjection(t *testing.T) {
	srv := testutil.NewSMTPServer(t, testutil.SMTPOptions{})
	tr, err := wmail.NewSMTP(wmail.SMTPConfig{Host: "127.0.0.1", Port: srv.Port(), TLS: wmail.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	m := testMessage()
	m.Subject = "Hi\r\nBcc: all@example.org"
	if err := tr.Send(context.Background(), m); err == nil || !wmail.Permanent(err) {
		t.Fatalf("err %v, permanent %v", err, wmail.Permanent(err))
	}
	if s := srv.Sessions(); len(s) != 0 {
		t.Fatalf("sessions %+v", s)
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
