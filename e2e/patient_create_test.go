package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"ward/internal/testutil"
)

// TestFHIRPatientCreate is issue 11 item 9 on the real binary with real
// tokens: a backend with system/Patient.c and a clinician through an app
// with user/Patient.c load patients with POST /fhir/Patient; a patient's
// user/ token, a patient/ scope and a read-only token are refused.
func TestFHIRPatientCreate(t *testing.T) {
	for _, backend := range testutil.Backends() {
		t.Run(backend, func(t *testing.T) {
			runPatientCreate(t, t.TempDir(), testutil.URLFor(t, backend))
		})
	}
}

func runPatientCreate(t *testing.T, dataDir, dbURL string) {
	for _, u := range []struct{ email, role string }{{"alice@example.org", "patient"}, {"sam@example.org", "clinician"}} {
		if out, code := ward(t, dataDir, dbURL, "add-user", "--email", u.email,
			"--password", "a long password 1", "--role", u.role); code != 0 {
			t.Fatalf("add %s: %d %s", u.email, code, out)
		}
	}
	var loader, reader, app struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	wardJSON(t, dataDir, dbURL, &loader, "client", "create", "--name", "Loader", "--grant", "client_credentials",
		"--scope", "system/Patient.c system/Patient.rs", "--json")
	wardJSON(t, dataDir, dbURL, &reader, "client", "create", "--name", "Reader", "--grant", "client_credentials",
		"--scope", "system/Patient.rs", "--json")
	const appScopes = "openid fhirUser launch/patient user/Patient.c user/Patient.rs patient/Patient.cruds"
	wardJSON(t, dataDir, dbURL, &app, "client", "create", "--name", "Chart", "--public",
		"--grant", "authorization_code", "--scope", appScopes, "--redirect-uri", redirectURI, "--json")
	base := serve(t, dataDir, dbURL)

	body := func(email string) []byte {
		return []byte(`{"resourceType":"Patient","id":"123","name":[{"family":"Loaded","given":["Lena"]}],
			"telecom":[{"system":"email","value":"` + email + `"},{"system":"phone","value":"+1 555 0100"}],
			"gender":"female","birthDate":"1977-07-07","identifier":[{"system":"urn:mrn","value":"` + email + `"}]}`)
	}

	// A backend loads a patient and reads it back.
	sys := fhirClient{t, base, clientCredentials(t, base, loader.ClientID, loader.ClientSecret, "system/Patient.c system/Patient.rs")}
	h, b := sys.want(http.StatusCreated, http.MethodPost, "/fhir/Patient", body("lena@example.org"))
	var created struct {
		ID   string
		Meta struct{ VersionID string }
	}
	if err := json.Unmarshal(b, &created); err != nil || created.ID == "" || created.ID == "123" || created.Meta.VersionID != "1" {
		t.Fatalf("created %s (%v)", b, err)
	}
	if loc := h.Get("Location"); loc != base+"/fhir/Patient/"+created.ID+"/_history/1" || h.Get("ETag") != `W/"1"` {
		t.Errorf("Location %q ETag %q", loc, h.Get("ETag"))
	}
	_, read := sys.want(http.StatusOK, http.MethodGet, "/fhir/Patient/"+created.ID, nil)
	testutil.ValidateFHIR(t, read)
	for _, want := range []string{`"family":"Loaded"`, `"value":"lena@example.org"`, `"birthDate":"1977-07-07"`, `"value":"+1 555 0100"`, `"system":"urn:mrn"`} {
		if !strings.Contains(string(read), want) {
			t.Errorf("read back %s lacks %s", read, want)
		}
	}
	if code, _, b := sys.do(http.MethodPost, "/fhir/Patient", body("LENA@example.org")); code != http.StatusConflict || strings.Contains(string(b), "SQL") {
		t.Errorf("a taken email: %d %s, want 409 without SQL", code, b)
	}
	// Refused beside it: a read-only backend.
	ro := fhirClient{t, base, clientCredentials(t, base, reader.ClientID, reader.ClientSecret, "system/Patient.rs")}
	ro.want(http.StatusForbidden, http.MethodPost, "/fhir/Patient", body("ro@example.org"))
	anon := fhirClient{t, base, ""}
	if code, _, _ := anon.do(http.MethodPost, "/fhir/Patient", body("anon@example.org")); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}

	// People through the app: the clinician may create a patient, the
	// patient may not, with the same scopes.
	token := func(email string, scopes ...string) fhirClient {
		conf := &oauth2.Config{ClientID: app.ClientID, RedirectURL: redirectURI,
			Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth/authorize", TokenURL: base + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams},
			Scopes:   scopes}
		verifier := oauth2.GenerateVerifier()
		loc := signInAndAllow(t, base, conf.AuthCodeURL("state-"+email, oauth2.S256ChallengeOption(verifier),
			oauth2.SetAuthURLParam("aud", base+"/fhir")), email, "a long password 1")
		tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange for %s: %v", email, err)
		}
		return fhirClient{t, base, tok.AccessToken}
	}
	sam := token("sam@example.org", "openid", "user/Patient.c", "user/Patient.rs")
	sam.want(http.StatusCreated, http.MethodPost, "/fhir/Patient", body("sams-patient@example.org"))
	alice := token("alice@example.org", "openid", "user/Patient.c", "user/Patient.rs")
	alice.want(http.StatusForbidden, http.MethodPost, "/fhir/Patient", body("alices-friend@example.org"))
	launched := token("alice@example.org", "openid", "launch/patient", "patient/Patient.cruds")
	launched.want(http.StatusForbidden, http.MethodPost, "/fhir/Patient", body("launched@example.org"))
	// The refused creates made nobody.
	for _, email := range []string{"ro@example.org", "anon@example.org", "alices-friend@example.org", "launched@example.org"} {
		if n, _ := sys.searchIDs("/fhir/Patient?identifier=urn:mrn|" + email); n != 0 {
			t.Errorf("a refused create made %s", email)
		}
	}
	if n, _ := sys.searchIDs("/fhir/Patient?identifier=urn:mrn|sams-patient@example.org"); n != 1 {
		t.Errorf("the clinician's patient: %d found, want 1", n)
	}
}
