package testutil

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// SMTPServer is a tiny scripted SMTP server on 127.0.0.1 for tests: it
// accepts every command, offers AUTH PLAIN (and STARTTLS when StartTLS is
// set), and records the conversation of its one connection: the commands
// it read, whether each came over TLS, and the DATA it received.
type SMTPServer struct {
	t  testing.TB
	ln net.Listener
	// StartTLS, when set, makes the server offer STARTTLS with it.
	StartTLS *tls.Config
	// Reply overrides the reply to a command, by verb ("RCPT").
	Reply map[string]string

	mu       sync.Mutex
	commands []SMTPCommand
	data     []string
	done     chan struct{}
}

// SMTPCommand is one command line the server read.
type SMTPCommand struct {
	Line string
	TLS  bool
}

// NewSMTPServer listens on a free loopback port until t ends.
func NewSMTPServer(t testing.TB) *SMTPServer {
	t.Helper()
	return &SMTPServer{t: t, ln: Listen(t), Reply: map[string]string{}, done: make(chan struct{})}
}

// Port is the port it listens on.
func (s *SMTPServer) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// ServeOne accepts one connection, in the background, and talks until
// QUIT or EOF.
func (s *SMTPServer) ServeOne() {
	go func() {
		defer close(s.done)
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		defer func() { _ = conn.Close() }()
		_ = conn.SetDeadline(time.Now().Add(time.Minute))
		s.talk(conn)
	}()
}

// Wait blocks until the conversation is over (a minute at most: a
// delivery job may take a moment to be picked up).
func (s *SMTPServer) Wait() {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(time.Minute):
		s.t.Fatal("the SMTP conversation did not end")
	}
}

func (s *SMTPServer) talk(conn net.Conn) {
	r, w := bufio.NewReader(conn), bufio.NewWriter(conn)
	secure := false
	say := func(lines ...string) {
		for _, l := range lines {
			_, _ = w.WriteString(l + "\r\n")
		}
		_ = w.Flush()
	}
	say("220 test.invalid ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		s.commands = append(s.commands, SMTPCommand{line, secure})
		s.mu.Unlock()
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		if rep, ok := s.Reply[verb]; ok {
			say(rep)
			continue
		}
		switch verb {
		case "EHLO":
			ext := []string{"250-test.invalid", "250-8BITMIME"}
			if s.StartTLS != nil && !secure {
				ext = append(ext, "250-STARTTLS")
			}
			say(append(ext, "250 AUTH PLAIN")...)
		case "STARTTLS":
			say("220 go ahead")
			tc := tls.Server(conn, s.StartTLS)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, secure = tc, true
			r, w = bufio.NewReader(tc), bufio.NewWriter(tc)
		case "AUTH":
			say("235 ok")
		case "MAIL", "RCPT", "RSET", "NOOP":
			say("250 ok")
		case "DATA":
			say("354 go on")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.mu.Lock()
			s.data = append(s.data, b.String())
			s.mu.Unlock()
			say("250 queued")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 unknown")
		}
	}
}

// Conversation returns the commands read and the messages received so far.
func (s *SMTPServer) Conversation() ([]SMTPCommand, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMTPCommand(nil), s.commands...), append([]string(nil), s.data...)
}

// SelfSigned returns a server TLS configuration for 127.0.0.1 and a pool
// that trusts it.
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
