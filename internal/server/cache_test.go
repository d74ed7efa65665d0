package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"ward/internal/actor"
	"ward/internal/directory"
	"ward/internal/httpauth"
	"ward/internal/testutil"
)

// fhirSend sends a FHIR request with the system bearer token.
func fhirSend(h http.Handler, method, target, ctype, bearer string, body io.Reader, size int64, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, body)
	req.ContentLength = size
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestHealthDataIsNotStored: every answer carrying health or personal data
// or a token says Cache-Control: no-store: FHIR reads, searches and
// creates, Binary content raw and as FHIR JSON, and the management API's
// person, demographics and token tools.
func TestHealthDataIsNotStored(t *testing.T) {
	srv := newServer(t, testutil.SQLiteURL(t), nil)
	h := srv.Handler()
	cookie, bearer := adminCredentials(t, srv.Services(), h)
	pat, err := srv.Services().Directory.CreateUser(actor.System(context.Background()),
		directory.NewUser{User: directory.User{Email: "pat@example.org"}, Roles: []string{"patient"}})
	if err != nil {
		t.Fatal(err)
	}
	rec := fhirSend(h, "POST", "/fhir/Binary", "text/plain", bearer, strings.NewReader("a letter"), 8,
		"X-Security-Context", fmt.Sprintf("Patient/%d", pat.ID))
	if rec.Code != http.StatusCreated {
		t.Fatalf("Binary upload: %d %s", rec.Code, rec.Body)
	}
	var created struct{ ID string }
	_ = json.Unmarshal(rec.Body.Bytes(), &created)
	check := func(what string, rec *httptest.ResponseRecorder) {
		t.Helper()
		if rec.Code >= 300 {
			t.Errorf("%s: %d %.300s", what, rec.Code, rec.Body)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", what, cc)
		}
	}
	check("Binary create", rec)
	pid := fmt.Sprint(pat.ID)
	for _, p := range []string{"/fhir/Patient/" + pid, "/fhir/Patient?_id=" + pid, "/fhir/DocumentReference/" + created.ID,
		"/fhir/DocumentReference?patient=" + pid, "/fhir/Binary/" + created.ID, "/fhir/DocumentReference/" + created.ID + "/Binary"} {
		check("GET "+p, fhirSend(h, "GET", p, "", bearer, nil, 0))
	}
	check("GET Binary as FHIR JSON", fhirSend(h, "GET", "/fhir/Binary/"+created.ID, "", bearer, nil, 0, "Accept", "application/fhir+json"))

	session := httpauth.CookieName + "=" + cookie
	api := func(method, target, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Cookie", session)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, p := range []string{"/api/me", "/api/user/" + pid, "/api/demographics/" + pid} {
		check("GET "+p, api("GET", p, ""))
	}
	check("POST /api/token/inspect", api("POST", "/api/token/inspect", `{"token":"`+bearer+`"}`))
	check("POST /api/token/revoke", api("POST", "/api/token/revoke", `{"token":"`+bearer+`"}`))
}
