package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"
	"time"
)

// TLSMode is how the SMTP transport protects the connection.
type TLSMode string

// TLS modes. STARTTLS is the default and is required: a server that does
// not offer it is refused before any credential or message is sent.
const (
	// TLSStartTLS upgrades a plain connection with STARTTLS (port 587).
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit connects with TLS from the first byte (port 465).
	TLSImplicit TLSMode = "tls"
	// TLSNone sends in clear: for a relay on the same host or a closed
	// network only. net/smtp still refuses to send a password in clear
	// to any host but localhost.
	TLSNone TLSMode = "none"
)

// ParseTLSMode accepts the three modes; "" is the default, STARTTLS.
func ParseTLSMode(s string) (TLSMode, error) {
	switch m := TLSMode(s); m {
	case "":
		return TLSStartTLS, nil
	case TLSStartTLS, TLSImplicit, TLSNone:
		return m, nil
	}
	return "", fmt.Errorf("mail: TLS mode must be starttls, tls or none, not %q", s)
}

// SMTPConfig is where and how the SMTP transport sends.
type SMTPConfig struct {
	Host string
	Port int
	// Username and Password, when Username is set, are sent with AUTH
	// PLAIN, only over TLS (or to localhost).
	Username string
	Password string
	TLS      TLSMode
	// TLSConfig, if set, is the base TLS configuration (tests set their
	// own roots); ServerName is always Host.
	TLSConfig *tls.Config
	// HelloName is the name given in EHLO; default "localhost".
	HelloName string
	// Timeout bounds one whole send; default 30 seconds.
	Timeout time.Duration
}

// SMTP is a Transport that sends each message over its own SMTP
// connection. It is safe for concurrent use.
type SMTP struct {
	cfg SMTPConfig
}

// NewSMTP checks cfg and returns the transport.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	var errs []error
	if cfg.Host == "" {
		errs = append(errs, errors.New("mail: SMTP host is required"))
	}
	if cfg.Port <= 0 || cfg.Port > 65535 {
		errs = append(errs, fmt.Errorf("mail: SMTP port must be 1 to 65535, not %d", cfg.Port))
	}
	mode, err := ParseTLSMode(string(cfg.TLS))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.TLS = mode
	if cfg.HelloName == "" {
		cfg.HelloName = "localhost"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &SMTP{cfg: cfg}, nil
}

func (t *SMTP) tlsConfig() *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.cfg.TLSConfig != nil {
		c = t.cfg.TLSConfig.Clone()
	}
	c.ServerName = t.cfg.Host
	return c
}

// Send delivers m: one connection, EHLO, STARTTLS (unless the mode says
// otherwise), AUTH when a username is set, one MAIL, one RCPT, DATA, QUIT.
// An error that the server gave with a 5xx code is permanent (Permanent).
func (t *SMTP) Send(ctx context.Context, m Message) error {
	data, err := m.Bytes()
	if err != nil {
		return permanent{err}
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	addr := net.JoinHostPort(t.cfg.Host, strconv.Itoa(t.cfg.Port))
	d := net.Dialer{}
	var conn net.Conn
	if t.cfg.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: t.tlsConfig()}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("mail: connect to %s: %w", addr, err)
	}
	// The deadline and the context both end a stuck conversation.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, t.cfg.Host)
	if err != nil {
		_ = conn.Close()
		return classifySMTP("greeting", err)
	}
	defer func() { _ = c.Close() }()
	if err := c.Hello(t.cfg.HelloName); err != nil {
		return classifySMTP("EHLO", err)
	}
	if t.cfg.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("mail: the SMTP server does not offer STARTTLS, which is required (WARD_SMTP_TLS)")
		}
		if err := c.StartTLS(t.tlsConfig()); err != nil {
			return fmt.Errorf("mail: STARTTLS: %w", err)
		}
	}
	if t.cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("mail: the SMTP server does not offer AUTH, but a username is configured")
		}
		if err := c.Auth(smtp.PlainAuth("", t.cfg.Username, t.cfg.Password, t.cfg.Host)); err != nil {
			return classifySMTP("AUTH", err)
		}
	}
	if err := c.Mail(m.From); err != nil {
		return classifySMTP("MAIL FROM", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return classifySMTP("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return classifySMTP("DATA", err)
	}
	if _, err := w.Write(data); err != nil {
		return classifySMTP("DATA", err)
	}
	if err := w.Close(); err != nil {
		return classifySMTP("DATA", err)
	}
	// The message was accepted at the end of DATA; a failed QUIT does
	// not undo that.
	_ = c.Quit()
	return nil
}

// permanent marks an error that retrying cannot cure.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent reports whether err is one that retrying will not cure: a
// message that cannot be rendered, or an SMTP 5xx reply.
func Permanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// classifySMTP names the step that failed and marks 5xx replies permanent.
func classifySMTP(step string, err error) error {
	e := fmt.Errorf("mail: SMTP %s: %w", step, err)
	var tp *textproto.Error
	if errors.As(err, &tp) && tp.Code >= 500 && tp.Code < 600 {
		return permanent{e}
	}
	return e
}

// PermanentError marks err as permanent (a Transport's way to say that
// retrying will not help).
func PermanentError(err error) error { return permanent{err} }
