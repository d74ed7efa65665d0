package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strconv"
	"strings"
)

// SMTP TLS modes (WARD_SMTP_TLS); internal/mail defines what each does.
const (
	SMTPStartTLS = "starttls"
	SMTPTLS      = "tls"
	SMTPNoTLS    = "none"
)

// SMTP is the outgoing mail server. Host "" means none: messages are then
// stored and logged as not sent.
type SMTP struct {
	Host string
	Port int
	// Username and Password are sent with AUTH (PLAIN or LOGIN, as the
	// server offers) when Username is set.
	Username string
	Password string
	// From is the sender address of every message.
	From string
	// TLS is starttls (the default, required), tls (implicit, port 465) or
	// none (a relay on this host or a closed network only).
	TLS string
}

// Enabled reports whether a mail server is configured.
func (s SMTP) Enabled() bool { return s.Host != "" }

func parsePort(v string, dst *int) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("not an integer: %q", v)
	}
	*dst = n
	return nil
}

// validate lists every problem; it never echoes the password.
func (s SMTP) validate() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !s.Enabled() {
		if s.Username != "" || s.Password != "" || s.From != "" {
			bad("WARD_SMTP_HOST: must be set when WARD_SMTP_USERNAME, WARD_SMTP_PASSWORD or WARD_SMTP_FROM is")
		}
		return errs
	}
	if strings.ContainsAny(s.Host, " /:\r\n\x00") && net.ParseIP(s.Host) == nil {
		bad("WARD_SMTP_HOST: %q is not a host name or IP address (no scheme, no port)", s.Host)
	}
	if s.Port < 1 || s.Port > 65535 {
		bad("WARD_SMTP_PORT: must be 1 to 65535, got %d", s.Port)
	}
	switch s.TLS {
	case SMTPStartTLS, SMTPTLS, SMTPNoTLS:
	default:
		bad("WARD_SMTP_TLS: %q is not one of starttls, tls, none", s.TLS)
	}
	if a, err := mail.ParseAddress(s.From); err != nil || a.Name != "" || a.Address != s.From {
		bad("WARD_SMTP_FROM: must be a bare email address (sender@example.org), got %q", s.From)
	}
	if (s.Username == "") != (s.Password == "") {
		bad("WARD_SMTP_USERNAME and WARD_SMTP_PASSWORD: set both or neither")
	}
	if strings.ContainsAny(s.Username, "\r\n\x00") || strings.ContainsAny(s.Password, "\r\n\x00") {
		errs = append(errs, errors.New("WARD_SMTP_USERNAME or WARD_SMTP_PASSWORD: holds a line break or NUL"))
	}
	if s.TLS == SMTPNoTLS && s.Username != "" && !loopbackHost(s.Host) {
		bad("WARD_SMTP_TLS=none with a username would send the password in clear to %s: use starttls or tls, or a relay on localhost", s.Host)
	}
	return errs
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
