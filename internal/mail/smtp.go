package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"regexp"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLSMode is how the SMTP transport protects the connection.
type TLSMode string

// TLS modes. STARTTLS is the default and is required: a server that does
// not offer it is refused before any credential or message is sent.
const (
	// TLSStartTLS upgrades a plain connection with STARTTLS (port 587):
	// go-mail's TLSMandatory policy.
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit connects with TLS from the first byte (port 465).
	TLSImplicit TLSMode = "tls"
	// TLSNone sends in clear: for a relay on the same host or a closed
	// network only. go-mail still refuses to send a password in clear to
	// any host but localhost (and config refuses to configure it).
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
	// PLAIN or LOGIN (whichever the server offers, PLAIN first), only
	// over TLS (or to localhost).
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
// connection, with github.com/wneessen/go-mail. It is safe for
// concurrent use.
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

// client is a go-mail client for one send. dial opens its connection:
// go-mail gives the dial function a context that ends with the dial, so
// the conversation's own context is applied in dial, not through go-mail.
func (t *SMTP) client(dial gomail.DialContextFunc) (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(t.cfg.Port),
		gomail.WithHELO(t.cfg.HelloName),
		gomail.WithTLSConfig(t.tlsConfig()),
		// Per command; the whole send is bounded by the context.
		gomail.WithTimeout(t.cfg.Timeout),
		gomail.WithDialContextFunc(dial),
		// One message per fresh connection: no NOOP to test it first,
		// and no RSET after DATA, whose failure go-mail would report as
		// a failed send of a message already accepted (and the outbox
		// would send it again).
		gomail.WithoutNoop(),
		gomail.WithoutRset(),
	}
	switch t.cfg.TLS {
	case TLSStartTLS:
		// Mandatory: without STARTTLS on offer go-mail stops after EHLO,
		// before AUTH and MAIL.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		// dial makes the TLS connection; WithSSL keeps go-mail from
		// trying STARTTLS over it.
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if t.cfg.Username != "" {
		// PLAIN or LOGIN as the server offers (other mechanisms it may
		// offer only if it offers neither). These two refuse to send
		// over a connection without TLS unless the host is localhost.
		opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(t.cfg.Username), gomail.WithPassword(t.cfg.Password))
	}
	c, err := gomail.NewClient(t.cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mail: SMTP client: %w", err)
	}
	return c, nil
}

// Send delivers m: one connection, EHLO, STARTTLS (unless the mode says
// otherwise), AUTH when a username is set, one MAIL, one RCPT, DATA, QUIT.
// An error that the server gave with a 5xx code is permanent (Permanent).
// Nothing here logs: go-mail's debug log, which would show the
// conversation, stays off.
func (t *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := m.msg()
	if err != nil {
		return permanent{err}
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	var conn net.Conn
	stop := func() bool { return false }
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		d := &net.Dialer{}
		var err error
		if t.cfg.TLS == TLSImplicit {
			conn, err = (&tls.Dialer{NetDialer: d, Config: t.tlsConfig()}).DialContext(dctx, network, addr)
		} else {
			conn, err = d.DialContext(dctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		// The send's deadline or cancellation ends a stuck conversation
		// at any step, not only while dialling.
		stop = context.AfterFunc(ctx, func() { _ = conn.Close() })
		return conn, nil
	}
	c, err := t.client(dial)
	if err != nil {
		return permanent{err}
	}
	sc, err := c.DialToSMTPClientWithContext(ctx)
	defer func() {
		stop()
		// go-mail leaves the connection open when EHLO, STARTTLS or
		// AUTH fails; after QUIT this is a no-op.
		if conn != nil {
			_ = conn.Close()
		}
	}()
	if err != nil {
		return classifySMTP("connect", redacted{err, m.To})
	}
	if err := c.SendWithSMTPClient(sc, msg); err != nil {
		return classifySMTP("send", redacted{err, m.To})
	}
	// The message was accepted at the end of DATA; a failed QUIT does
	// not undo that.
	_ = c.CloseWithSMTPClient(sc)
	return nil
}

// redacted is err with the recipient's address left out of its text
// (go-mail names the affected recipients, servers often echo them): the
// outbox stores and logs the error, and names recipients by user id only.
type redacted struct {
	err  error
	addr string
}

func (r redacted) Error() string {
	re := regexp.MustCompile("(?i)" + regexp.QuoteMeta(r.addr))
	return re.ReplaceAllLiteralString(r.err.Error(), "[recipient]")
}

func (r redacted) Unwrap() error { return r.err }

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

// classifySMTP names the step that failed and marks 5xx replies
// permanent. Everything else (4xx, network, TLS, a server without
// STARTTLS) may be cured by time and is retried. go-mail's
// SendError.IsTemp is not used alone: it calls a network error
// permanent, which would drop a message on a passing outage.
func classifySMTP(step string, err error) error {
	e := fmt.Errorf("mail: SMTP %s: %w", step, err)
	if code := replyCode(err); code >= 500 && code < 600 {
		return permanent{e}
	}
	return e
}

// replyCode is the SMTP reply code in err, 0 when the server gave none.
func replyCode(err error) int {
	var se *gomail.SendError
	if errors.As(err, &se) && se.ErrorCode() != 0 {
		return se.ErrorCode()
	}
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return tp.Code
	}
	return 0
}

// PermanentError marks err as permanent (a Transport's way to say that
// retrying will not help).
func PermanentError(err error) error { return permanent{err} }
