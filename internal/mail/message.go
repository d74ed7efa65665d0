package mail

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is one email to one recipient, as a Transport sends it.
type Message struct {
	// From and To are bare addresses (user@example.org).
	From string
	To   string
	// Subject is one line of UTF-8 text; Body is plain UTF-8 text.
	Subject string
	Body    string
	// MessageID is the Message-ID header without angle brackets
	// ("ward-12.abc@example.org").
	MessageID string
	Date      time.Time
}

// ErrHeader is wrapped by every refusal of a header value: a line break
// or NUL in a header would let its value add headers of its own.
var ErrHeader = errors.New("mail: header value holds a line break, a NUL or invalid UTF-8")

// CheckHeaderText refuses a header value that could break out of its
// header line (CR, LF, NUL) or is not valid UTF-8.
func CheckHeaderText(v string) error {
	if strings.ContainsAny(v, "\r\n\x00") || !utf8.ValidString(v) {
		return ErrHeader
	}
	return nil
}

// CheckAddress accepts a bare email address (no display name, no line
// break) that net/mail parses back to itself.
func CheckAddress(addr string) error {
	if err := CheckHeaderText(addr); err != nil {
		return err
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != addr {
		return fmt.Errorf("mail: %q is not a bare email address", addr)
	}
	return nil
}

// Bytes renders m as an RFC 5322 message with MIME headers: the subject
// is Q-encoded when it is not plain ASCII, and the body is quoted-printable
// UTF-8 with CRLF line ends, so no line is too long for SMTP (the SMTP
// client dot-stuffs a line that starts with ".").
func (m Message) Bytes() ([]byte, error) {
	for _, v := range []string{m.From, m.To} {
		if err := CheckAddress(v); err != nil {
			return nil, err
		}
	}
	if err := CheckHeaderText(m.Subject); err != nil {
		return nil, err
	}
	if err := CheckHeaderText(m.MessageID); err != nil || strings.ContainsAny(m.MessageID, "<> ") {
		return nil, fmt.Errorf("mail: bad Message-ID %q", m.MessageID)
	}
	if !utf8.ValidString(m.Body) || strings.IndexByte(m.Body, 0) >= 0 {
		return nil, errors.New("mail: body holds a NUL or invalid UTF-8")
	}
	var b bytes.Buffer
	h := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	h("Date", m.Date.Format(time.RFC1123Z))
	h("Message-ID", "<"+m.MessageID+">")
	h("From", (&mail.Address{Address: m.From}).String())
	h("To", (&mail.Address{Address: m.To}).String())
	h("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\r", "\n")
	// quotedprintable writes a hard line break as CRLF when it reads LF.
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, fmt.Errorf("mail: encode body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("mail: encode body: %w", err)
	}
	b.WriteString("\r\n")
	return b.Bytes(), nil
}

// domainOf is the part of addr after the last "@".
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return "localhost"
}
