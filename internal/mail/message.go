package mail

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"
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

// check is ward's own validation of every header value and the body,
// done before go-mail sees them: go-mail encodes what it is given, and
// a line break that reached it could still end up splitting a header.
func (m Message) check() error {
	for _, v := range []string{m.From, m.To} {
		if err := CheckAddress(v); err != nil {
			return err
		}
	}
	if err := CheckHeaderText(m.Subject); err != nil {
		return err
	}
	if err := CheckHeaderText(m.MessageID); err != nil || m.MessageID == "" || strings.ContainsAny(m.MessageID, "<> ") {
		return fmt.Errorf("mail: bad Message-ID %q", m.MessageID)
	}
	if !utf8.ValidString(m.Body) || strings.IndexByte(m.Body, 0) >= 0 {
		return errors.New("mail: body holds a NUL or invalid UTF-8")
	}
	return nil
}

// msg checks m and builds it as a go-mail message: Date, Message-ID,
// From, To, a subject Q-encoded when it is not plain ASCII, and a plain
// UTF-8 body in quoted-printable, so no line is too long for SMTP. No
// User-Agent header: the software that sent it is nobody's business.
func (m Message) msg() (*gomail.Msg, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	g := gomail.NewMsg(gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingQP),
		gomail.WithNoDefaultUserAgent())
	if err := g.From(m.From); err != nil {
		return nil, fmt.Errorf("mail: sender: %w", err)
	}
	if err := g.To(m.To); err != nil {
		return nil, fmt.Errorf("mail: recipient: %w", err)
	}
	g.Subject(m.Subject)
	g.SetMessageIDWithValue(m.MessageID)
	g.SetDateWithValue(m.Date)
	// Line ends are the writer's business: it writes CRLF for each LF.
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\r", "\n")
	g.SetBodyString(gomail.TypeTextPlain, body)
	return g, nil
}

// Bytes renders m as the RFC 5322 message that is sent (before the SMTP
// client dot-stuffs a line that starts with ".").
func (m Message) Bytes() ([]byte, error) {
	g, err := m.msg()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := g.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("mail: render message: %w", err)
	}
	return b.Bytes(), nil
}

// domainOf is the part of addr after the last "@".
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return "localhost"
}
