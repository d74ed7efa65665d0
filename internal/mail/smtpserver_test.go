package mail_test

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

// smtpServer is a tiny scripted SMTP server on 127.0.0.1 that records the
// conversation of each connection: the commands it read, whether each
// was read over TLS, and the DATA it received.
type smtpServer struct {
	t        *testing.T
	ln       net.Listener
	startTLS *tls.Config // offer STARTTLS with this certificate when set
	// reply, if set, overrides the reply to a command (by verb).
	reply map[string]string

	mu       sync.Mutex
	commands []command
	data     []string
	done     chan struct{}
}

type command struct {
	Line string
	TLS  bool
}

func newSMTPServer(t *testing.T) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{t: t, ln: ln, reply: map[string]string{}, done: make(chan struct{})}
	t.Cleanup(func() { _ = ln.Close() })
	return s
}

func (s *smtpServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// serveOne accepts one connection and talks until QUIT or EOF.
func (s *smtpServer) serveOne() {
	go func() {
		defer close(s.done)
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		defer func() { _ = conn.Close() }()
		_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
		s.talk(conn)
	}()
}

// wait blocks until the connection is over.
func (s *smtpServer) wait() {
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.t.Fatal("the SMTP conversation did not end")
	}
}

func (s *smtpServer) talk(conn net.Conn) {
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
		s.commands = append(s.commands, command{line, secure})
		s.mu.Unlock()
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		if rep, ok := s.reply[verb]; ok {
			say(rep)
			continue
		}
		switch verb {
		case "EHLO":
			ext := []string{"250-test.invalid", "250-8BITMIME"}
			if s.startTLS != nil && !secure {
				ext = append(ext, "250-STARTTLS")
			}
			say(append(ext, "250 AUTH PLAIN")...)
		case "STARTTLS":
			say("220 go ahead")
			tc := tls.Server(conn, s.startTLS)
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

func (s *smtpServer) conversation() ([]command, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]command(nil), s.commands...), append([]string(nil), s.data...)
}

// selfSigned returns a server TLS config for 127.0.0.1 and a pool that
// trusts it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
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
