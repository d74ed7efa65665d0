package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/server"
	"ward/internal/testutil"
)

// safetyNet bounds a test's wait on a connection, so a server that never
// answers fails the test instead of hanging it. The server's own deadlines
// in these tests are a fraction of a second.
const safetyNet = 20 * time.Second

// serveReal runs srv on a real loopback listener, as ward serve does, and
// returns its address.
func serveReal(t *testing.T, srv *server.Server) string {
	t.Helper()
	ln := testutil.Listen(t)
	testutil.Serve(t, srv, ln)
	return ln.Addr().String()
}

// shortDeadlines makes every deadline of the listener a fraction of a second.
func shortDeadlines(c *config.Config) {
	c.RequestReadTimeout = 300 * time.Millisecond
	c.UploadReadTimeout = 300 * time.Millisecond
	c.IdleTimeout = 300 * time.Millisecond
}

// trickle sends a request's headers declaring a large body, then the body a
// byte at a time, far slower than the read deadline allows, until the
// server answers or closes. It returns the response (nil when the server
// closed without one) and the rest of what the server sent after it.
func trickle(t *testing.T, addr, head string) (*http.Response, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if _, err := io.WriteString(conn, head+"Content-Length: 100000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		// 100000 bytes at this pace would take over 15 minutes.
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("a")); err != nil {
					return
				}
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(safetyNet))
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server held a request whose body trickles in for %s without answering or closing", safetyNet)
	}
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body = io.NopCloser(bytes.NewReader(body))
	// After the answer the server closes the connection: it does not wait
	// for the rest of the body.
	if _, err := br.ReadByte(); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server kept the connection of a timed-out request open")
	}
	return res, nil
}

// TestSlowBodyIsCutOff: a request whose body has not arrived within the
// read deadline of its start is answered 408 (in the API's format) and its
// connection closed, however steadily it trickles; so is a raw upload past
// the upload deadline.
func TestSlowBodyIsCutOff(t *testing.T) {
	srv := newServer(t, testutil.SQLiteURL(t), shortDeadlines)
	addr := serveReal(t, srv)
	_, bearer := adminCredentials(t, srv.Services(), srv.Handler())
	pat, err := srv.Services().Directory.CreateUser(actor.System(context.Background()),
		directory.NewUser{User: directory.User{Email: "pat@example.org"}, Roles: []string{"patient"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, head, wantType string }{
		{"sign-in form", "POST /login HTTP/1.1\r\nHost: ward\r\nContent-Type: application/x-www-form-urlencoded\r\n", "text/html"},
		{"FHIR resource", "POST /fhir/Patient HTTP/1.1\r\nHost: ward\r\nContent-Type: application/fhir+json\r\nAuthorization: Bearer " + bearer + "\r\n", "application/fhir+json"},
		{"raw Binary upload", fmt.Sprintf("POST /fhir/Binary HTTP/1.1\r\nHost: ward\r\nContent-Type: application/pdf\r\nX-Security-Context: Patient/%d\r\nAuthorization: Bearer %s\r\n", pat.ID, bearer), "application/fhir+json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := trickle(t, addr, tt.head)
			if err != nil {
				// Closed without an answer: cut off too, if less politely.
				t.Logf("closed without an answer: %v", err)
				return
			}
			if res.StatusCode != http.StatusRequestTimeout || !strings.HasPrefix(res.Header.Get("Content-Type"), tt.wantType) {
				body, _ := io.ReadAll(res.Body)
				t.Errorf("trickled body: %d %s %s, want 408 as %s", res.StatusCode, res.Header.Get("Content-Type"), body, tt.wantType)
			}
		})
	}
}

// TestUploadGetsItsOwnDeadline: a raw Binary upload that takes longer to
// arrive than the request deadline, but not than the upload deadline, is
// stored.
func TestUploadGetsItsOwnDeadline(t *testing.T) {
	srv := newServer(t, testutil.SQLiteURL(t), func(c *config.Config) {
		c.RequestReadTimeout = 200 * time.Millisecond
		c.UploadReadTimeout = time.Minute
	})
	addr := serveReal(t, srv)
	_, bearer := adminCredentials(t, srv.Services(), srv.Handler())
	pat, err := srv.Services().Directory.CreateUser(actor.System(context.Background()),
		directory.NewUser{User: directory.User{Email: "pat@example.org"}, Roles: []string{"patient"}})
	if err != nil {
		t.Fatal(err)
	}
	// 40 chunks 20 ms apart: at least 800 ms, four times the request deadline.
	pr, pw := io.Pipe()
	go func() {
		for range 40 {
			time.Sleep(20 * time.Millisecond)
			if _, err := pw.Write(bytes.Repeat([]byte("x"), 100)); err != nil {
				return
			}
		}
		_ = pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/fhir/Binary", pr)
	req.ContentLength = 4000
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("X-Security-Context", fmt.Sprintf("Patient/%d", pat.ID))
	res, err := (&http.Client{Timeout: safetyNet}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		body, _ := io.ReadAll(res.Body)
		t.Errorf("slow upload within the upload deadline: %d %s, want 201", res.StatusCode, body)
	}
}

// TestIdleConnectionIsClosed: a keep-alive connection that carries no
// further request is closed by the server after the idle timeout.
func TestIdleConnectionIsClosed(t *testing.T) {
	srv := newServer(t, testutil.SQLiteURL(t), func(c *config.Config) { c.IdleTimeout = 300 * time.Millisecond })
	addr := serveReal(t, srv)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: ward\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(safetyNet))
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Close {
		t.Fatalf("GET /healthz: %d, close %v; want 200 on a kept-alive connection", res.StatusCode, res.Close)
	}
	_, err = br.ReadByte()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("an idle keep-alive connection was still open after %s", safetyNet)
	}
	if err == nil {
		t.Fatal("the server sent bytes on an idle connection")
	}
}

// TestJSONResourceCap: a FHIR JSON body over WARD_MAX_BODY_BYTES, a
// DocumentReference with inline content or a FHIR JSON Binary, is 413 with
// an OperationOutcome, by declared length or (chunked) when read; a raw
// Binary of several megabytes streams to the blob store and reads back
// whole.
func TestJSONResourceCap(t *testing.T) {
	srv := newServer(t, testutil.SQLiteURL(t), nil)
	h := srv.Handler()
	_, bearer := adminCredentials(t, srv.Services(), h)
	pat, err := srv.Services().Directory.CreateUser(actor.System(context.Background()),
		directory.NewUser{User: directory.User{Email: "pat@example.org"}, Roles: []string{"patient"}})
	if err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("scan of a letter "), 100000) // 1.7 MB
	data := base64.StdEncoding.EncodeToString(content)
	doc := fmt.Sprintf(`{"resourceType":"DocumentReference","status":"current","subject":{"reference":"Patient/%d"},`+
		`"content":[{"attachment":{"contentType":"text/plain","data":"%s"}}]}`, pat.ID, data)
	bin := fmt.Sprintf(`{"resourceType":"Binary","contentType":"text/plain","securityContext":{"reference":"Patient/%d"},"data":"%s"}`, pat.ID, data)
	for _, tt := range []struct{ name, method, path, body string }{
		{"DocumentReference create", "POST", "/fhir/DocumentReference", doc},
		{"DocumentReference update", "PUT", "/fhir/DocumentReference/1", doc},
		{"FHIR JSON Binary", "POST", "/fhir/Binary", bin},
	} {
		for _, chunked := range []bool{false, true} {
			size := int64(len(tt.body))
			var body io.Reader = strings.NewReader(tt.body)
			if chunked {
				size, body = -1, io.MultiReader(body)
			}
			rec := fhirSend(h, tt.method, tt.path, "application/fhir+json", bearer, body, size)
			var oo struct {
				ResourceType string
				Issue        []struct{ Severity, Code, Diagnostics string }
			}
			if rec.Code != http.StatusRequestEntityTooLarge || json.Unmarshal(rec.Body.Bytes(), &oo) != nil ||
				oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
				t.Errorf("%s of %d bytes (chunked %v): %d %.300s, want 413 OperationOutcome", tt.name, len(tt.body), chunked, rec.Code, rec.Body)
			}
		}
	}

	// Under the cap, inline content is still taken.
	small := fmt.Sprintf(`{"resourceType":"DocumentReference","status":"current","subject":{"reference":"Patient/%d"},`+
		`"content":[{"attachment":{"contentType":"text/plain","data":"%s"}}]}`, pat.ID, base64.StdEncoding.EncodeToString([]byte("a short note")))
	if rec := fhirSend(h, "POST", "/fhir/DocumentReference", "application/fhir+json", bearer, strings.NewReader(small), int64(len(small))); rec.Code != http.StatusCreated {
		t.Errorf("small DocumentReference: %d %s", rec.Code, rec.Body)
	}

	// The same content, raw, streams through Binary and reads back whole.
	big := bytes.Repeat(content, 3) // 5.1 MB
	rec := fhirSend(h, "POST", "/fhir/Binary", "application/octet-stream", bearer, bytes.NewReader(big), int64(len(big)),
		"X-Security-Context", fmt.Sprintf("Patient/%d", pat.ID))
	if rec.Code != http.StatusCreated {
		t.Fatalf("raw Binary of %d bytes: %d %s", len(big), rec.Code, rec.Body)
	}
	var created struct{ ID string }
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil || created.ID == "" {
		t.Fatalf("raw Binary answer: %s", rec.Body)
	}
	rec = fhirSend(h, "GET", "/fhir/Binary/"+created.ID, "", bearer, nil, 0)
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), big) {
		t.Errorf("reading the raw Binary back: %d, %d bytes, want %d identical", rec.Code, rec.Body.Len(), len(big))
	}
}
