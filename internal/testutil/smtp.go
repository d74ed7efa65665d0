package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPServer is a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1 for tests. It accepts every sender, recipient and message
// unless told otherwise, offers AUTH PLAIN and LOGIN (over TLS, or in
// clear since it is on loopback), and records each session.
type SMTPServer struct {
	t   testing.TB
	ln  net.Listener
	srv *smtp.Server

	mu       sync.Mutex
	sessions []*SMTPSession
	// reject and mechs are SMTPOptions.Reject and AuthMechs.
	reject map[string]*smtp.SMTPError
	mechs  []string
	byConn map[*smtp.Conn]*SMTPSession
	ended  chan struct{}
}

// SMTPSession is what one connection did (across STARTTLS).
type SMTPSession struct {
	// Hello is the name the client gave in EHLO.
	Hello string
	// AuthMech, Username and Password are what AUTH received; AuthTLS
	// whether it came over TLS.
	AuthMech, Username, Password string
	AuthTLS                      bool
	// From and To are the envelope; MailTLS whether MAIL came over TLS.
	From    string
	To      []string
	MailTLS bool
	// Data holds the messages received, as the server read them (dot
	// stuffing undone).
	Data []string
}

// SMTPOptions choose what the server offers.
type SMTPOptions struct {
	// StartTLS, when set, makes the server offer STARTTLS with it.
	StartTLS *tls.Config
	// Implicit, when set, makes the server speak TLS from the first byte
	// with it (and offer no STARTTLS).
	Implicit *tls.Config
	// AuthMechs are the AUTH mechanisms offered; default PLAIN and LOGIN.
	AuthMechs []string
	// Reject answers a command by verb ("AUTH", "MAIL", "RCPT", "DATA")
	// with that error.
	Reject map[string]*smtp.SMTPError
}

// NewSMTPServer serves on a free loopback port until t ends.
func NewSMTPServer(t testing.TB, opts SMTPOptions) *SMTPServer {
	t.Helper()
	s := &SMTPServer{t: t, ln: Listen(t), reject: opts.Reject, mechs: opts.AuthMechs,
		byConn: map[*smtp.Conn]*SMTPSession{}, ended: make(chan struct{}, 16)}
	if s.mechs == nil {
		s.mechs = []string{sasl.Plain, sasl.Login}
	}
	s.srv = smtp.NewServer(smtp.BackendFunc(s.newSession))
	s.srv.Domain = "test.invalid"
	s.srv.TLSConfig = opts.StartTLS
	// Loopback only: lets the test see whether the client would send
	// credentials in clear.
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout, s.srv.WriteTimeout = time.Minute, time.Minute
	// A client that hangs up is what several tests are about.
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	var ln net.Listener = endSignalling{s.ln, s.ended}
	if opts.Implicit != nil {
		ln = tls.NewListener(ln, opts.Implicit)
	}
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// Port is the port it listens on.
func (s *SMTPServer) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Wait blocks until a connection has ended (a minute at most: a delivery job
// may take a moment to be picked up).
func (s *SMTPServer) Wait() {
	s.t.Helper()
	select {
	case <-s.ended:
	case <-time.After(time.Minute):
		s.t.Fatal("no SMTP connection ended")
	}
}

// Sessions returns copies of the connections' records so far, in the
// order they began.
func (s *SMTPServer) Sessions() []SMTPSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SMTPSession, len(s.sessions))
	for i, ss := range s.sessions {
		out[i] = *ss
		out[i].To = append([]string(nil), ss.To...)
		out[i].Data = append([]string(nil), ss.Data...)
	}
	return out
}

// Messages returns every message received, in order.
func (s *SMTPServer) Messages() []string {
	var out []string
	for _, ss := range s.Sessions() {
		out = append(out, ss.Data...)
	}
	return out
}

// newSession is called at each EHLO, so twice on a connection that
// upgrades with STARTTLS: a record is one connection's.
func (s *SMTPServer) newSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byConn[c]
	if !ok {
		ss = &SMTPSession{}
		s.byConn[c] = ss
		s.sessions = append(s.sessions, ss)
	}
	ss.Hello = c.Hostname()
	return &smtpSession{s: s, c: c, rec: ss}, nil
}

// smtpSession is go-smtp's view of one connection.
type smtpSession struct {
	s   *SMTPServer
	c   *smtp.Conn
	rec *SMTPSession
}

func (x *smtpSession) tls() bool {
	_, ok := x.c.TLSConnectionState()
	return ok
}

// update changes the record under the server's lock.
func (x *smtpSession) update(f func(r *SMTPSession)) {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	f(x.rec)
}

func (x *smtpSession) rejected(verb string) error {
	if e, ok := x.s.reject[verb]; ok {
		return e
	}
	return nil
}

func (x *smtpSession) AuthMechanisms() []string { return x.s.mechs }

func (x *smtpSession) Auth(mech string) (sasl.Server, error) {
	record := func(user, pass string) error {
		x.update(func(r *SMTPSession) {
			r.AuthMech, r.Username, r.Password, r.AuthTLS = mech, user, pass, x.tls()
		})
		return x.rejected("AUTH")
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return record(user, pass) }), nil
	case sasl.Login:
		return &loginServer{done: record}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (x *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	x.update(func(r *SMTPSession) { r.From, r.MailTLS = from, x.tls() })
	return x.rejected("MAIL")
}

func (x *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.update(func(r *SMTPSession) { r.To = append(r.To, to) })
	return x.rejected("RCPT")
}

func (x *smtpSession) Data(rd io.Reader) error {
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	if err := x.rejected("DATA"); err != nil {
		return err
	}
	x.update(func(r *SMTPSession) { r.Data = append(r.Data, string(b)) })
	return nil
}

func (x *smtpSession) Reset() {}

func (x *smtpSession) Logout() error { return nil }

// endSignalling is a listener whose connections report their end: go-smtp
// ends a session at STARTTLS too, so a session's end is no sign that the
// conversation is over.
type endSignalling struct {
	net.Listener
	ended chan<- struct{}
}

func (l endSignalling) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &signallingConn{Conn: c, ended: l.ended}, nil
}

type signallingConn struct {
	net.Conn
	once  sync.Once
	ended chan<- struct{}
}

func (c *signallingConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		select {
		case c.ended <- struct{}{}:
		default:
		}
	})
	return err
}

// loginServer is the server side of AUTH LOGIN (go-sasl has only the
// client's): it asks for the username, then the password.
type loginServer struct {
	step int
	user string
	done func(user, pass string) error
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if response != nil {
			// An initial response is the username.
			l.user, l.step = string(response), 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(response)
		return []byte("Password:"), false, nil
	case 3:
		return nil, true, l.done(l.user, string(response))
	}
	return nil, true, errors.New("unexpected AUTH LOGIN response")
}

// SelfSigned returns a server TLS configuration for 127.0.0.1 and a pool
// that trusts it; the certificate is made afresh for each test.
func SelfSigned(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, pool
}
