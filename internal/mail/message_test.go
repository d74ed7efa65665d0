package mail_test

import (
	"io"
	"mime"
	"net/mail"
	"strings"
	"testing"

	wmail "ward/internal/mail"
)

// TestMessageBytes: the rendered message has the MIME headers, a
// Q-encoded non-ASCII subject that decodes back, and a quoted-printable
// body with CRLF line ends.
func TestMessageBytes(t *testing.T) {
	m := testMessage()
	m.Subject = "Rendez-vous confirmé ✓"
	m.Body = "Bonjour,\nà demain.\r\n" + strings.Repeat("x", 200)
	raw, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.SplitAfter(string(raw), "\n") {
		if strings.HasSuffix(line, "\n") && !strings.HasSuffix(line, "\r\n") {
			t.Fatalf("bare LF in %q", line)
		}
		if len(line) > 78+2 {
			t.Fatalf("line longer than 78 characters: %q", line)
		}
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	if !strings.HasPrefix(strings.ToLower(h.Get("Subject")), "=?utf-8?q?") {
		t.Errorf("subject not Q-encoded: %q", h.Get("Subject"))
	}
	if got, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject")); err != nil || got != m.Subject {
		t.Errorf("subject decodes to %q, %v", got, err)
	}
	if h.Get("MIME-Version") != "1.0" || !strings.EqualFold(h.Get("Content-Type"), "text/plain; charset=utf-8") ||
		h.Get("Content-Transfer-Encoding") != "quoted-printable" || h.Get("Date") != "Fri, 02 Jan 2026 03:04:05 +0000" ||
		h.Get("From") != "<ward@clinic.example>" || h.Get("Message-Id") == "" {
		t.Errorf("headers %v", h)
	}
	body, _ := io.ReadAll(msg.Body)
	if strings.Contains(string(body), "à") {
		t.Error("body not quoted-printable")
	}

	ascii := testMessage()
	raw, err = ascii.Bytes()
	if err != nil || !strings.Contains(string(raw), "\r\nSubject: Your appointment\r\n") {
		t.Errorf("plain ASCII subject changed: %v\n%s", err, raw)
	}
}

// TestMessageRefusesHeaderInjection: a line break or NUL in a header
// value, or an address that is not a bare address, is refused.
func TestMessageRefusesHeaderInjection(t *testing.T) {
	for name, edit := range map[string]func(*wmail.Message){
		"CRLF in subject":   func(m *wmail.Message) { m.Subject = "Hi\r\nBcc: all@example.org" },
		"LF in subject":     func(m *wmail.Message) { m.Subject = "Hi\nBcc: all@example.org" },
		"NUL in subject":    func(m *wmail.Message) { m.Subject = "Hi\x00" },
		"bad UTF-8":         func(m *wmail.Message) { m.Subject = "Hi \xff" },
		"CRLF in to":        func(m *wmail.Message) { m.To = "pat@example.org\r\nBcc: all@example.org" },
		"display name":      func(m *wmail.Message) { m.To = "Pat <pat@example.org>" },
		"two addresses":     func(m *wmail.Message) { m.To = "pat@example.org, all@example.org" },
		"no address":        func(m *wmail.Message) { m.To = "" },
		"bad from":          func(m *wmail.Message) { m.From = "ward" },
		"message id":        func(m *wmail.Message) { m.MessageID = "a>\r\nX: y" },
		"no message id":     func(m *wmail.Message) { m.MessageID = "" },
		"NUL in body":       func(m *wmail.Message) { m.Body = "a\x00b" },
		"bad UTF-8 in body": func(m *wmail.Message) { m.Body = "\xff" },
	} {
		m := testMessage()
		edit(&m)
		if raw, err := m.Bytes(); err == nil {
			t.Errorf("%s: rendered\n%s", name, raw)
		}
	}
}
