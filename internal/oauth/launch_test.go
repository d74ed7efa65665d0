package oauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"ward/internal/directory"
	"ward/internal/testutil"
)

// TestStaffLaunchPicksAPatient: a staff member launching a patient app
// picks the patient on the consent page, from the patients they may see;
// a patient they may not see is refused and no code is issued.
func TestStaffLaunchPicksAPatient(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		sys := e.sys()
		org, err := e.svc.Directory.CreateOrganization(sys, &directory.Organization{Name: "Clinic"})
		if err != nil {
			t.Fatal(err)
		}
		staff := e.user("staff@example.org", patientPassword, "staff")
		if _, err := e.svc.Directory.SetUserOrganizations(sys, staff.ID, []int64{org.ID}); err != nil {
			t.Fatal(err)
		}
		seen := e.user("seen@example.org", patientPassword, "patient")
		if _, err := e.svc.Directory.AddConsent(sys, &directory.Consent{UserID: seen.ID, OrganizationID: org.ID}); err != nil {
			t.Fatal(err)
		}
		unseen := e.user("unseen@example.org", patientPassword, "patient")

		a := newApp(t, e, "openid fhirUser launch/patient patient/*.rs")
		b := e.browser()
		v, _ := pkce("s")
		start := func(state string) page {
			p := b.get(a.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(v), oidc.Nonce("nonce-"+state)))
			if strings.Contains(p.body, `name="password"`) {
				p = b.signIn(p, staff.Email, patientPassword)
			}
			return p
		}

		p := start("state-staff-1")
		if !strings.Contains(p.body, `name="patient"`) {
			t.Fatalf("no patient picker on the consent page:\n%.800s", p.body)
		}
		var offered []string
		for _, m := range optionRE.FindAllStringSubmatch(p.body, -1) {
			offered = append(offered, m[1])
		}
		if want := []string{strconv.FormatInt(seen.ID, 10)}; fmt.Sprint(offered) != fmt.Sprint(want) {
			t.Errorf("patients offered %v, want only the consented one %v", offered, want)
		}

		// Picking a patient the staff member may not see: page again, no code.
		got := b.consent(p, "allow", url.Values{"patient": {strconv.FormatInt(unseen.ID, 10)}})
		if got.location != nil || !strings.Contains(got.body, `name="patient"`) {
			t.Fatalf("a patient outside the staff member's reach was accepted: %v %d", got.location, got.status)
		}
		// And one that does not exist.
		got = b.consent(got, "allow", url.Values{"patient": {"999999"}})
		if got.location != nil {
			t.Fatalf("an unknown patient was accepted: %v", got.location)
		}

		got = b.consent(got, "allow", url.Values{"patient": {strconv.FormatInt(seen.ID, 10)}})
		code := codeFrom(t, got, "state-staff-1")
		tok, err := a.conf.Exchange(ctx, code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		if tok.Extra("patient") != strconv.FormatInt(seen.ID, 10) {
			t.Errorf("patient = %v, want %d", tok.Extra("patient"), seen.ID)
		}
		idt, err := a.provider.Verifier(&oidc.Config{ClientID: a.id}).Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var claims struct {
			FhirUser string `json:"fhirUser"`
		}
		_ = idt.Claims(&claims)
		if want := e.issuer + "/fhir/Practitioner/" + strconv.FormatInt(staff.ID, 10); claims.FhirUser != want {
			t.Errorf("fhirUser = %q, want %q", claims.FhirUser, want)
		}
	})
}

func TestAudienceAndEndSession(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		pat := e.user("pat@example.org", patientPassword, "patient")
		a := newApp(t, e, "openid fhirUser patient/*.rs")
		b := e.browser()
		v, _ := pkce("e")

		// aud naming another FHIR server is refused at the app's redirect.
		p := b.get(a.conf.AuthCodeURL("state-aud-001", oauth2.S256ChallengeOption(v),
			oauth2.SetAuthURLParam("aud", "https://other.example/fhir")))
		if p.location == nil || p.location.Query().Get("error") != "invalid_request" || p.location.Query().Get("code") != "" {
			t.Fatalf("foreign aud: %v %d", p.location, p.status)
		}

		p = a.authorize(b, pat.Email, patientPassword, "state-aud-002", v, "nonce-aud-002",
			oauth2.SetAuthURLParam("aud", e.issuer+"/fhir"))
		tok, err := a.conf.Exchange(ctx, codeFrom(t, p, "state-aud-002"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		idToken := tok.Extra("id_token").(string)

		// Without an ID token hint nothing is ended.
		if got := b.get(e.issuer + "/oauth/logout"); got.status != http.StatusBadRequest {
			t.Errorf("logout without a hint: %d", got.status)
		}
		if st := b.get(e.issuer + "/"); st.url.Path != "/" {
			t.Fatalf("the session ended without a hint (landed on %s)", st.url)
		}
		// A redirect URI the app never registered is refused.
		bad := url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://evil.example/"}}
		if got := b.get(e.issuer + "/oauth/logout?" + bad.Encode()); got.location != nil || got.status != http.StatusBadRequest {
			t.Errorf("unregistered post-logout redirect: %d %v", got.status, got.location)
		}
		good := url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {appRedirect}, "state": {"bye-1"}}
		got := b.get(e.issuer + "/oauth/logout?" + good.Encode())
		if got.location == nil || !strings.HasPrefix(got.location.String(), appRedirect) || got.location.Query().Get("state") != "bye-1" {
			t.Fatalf("logout: %d %v", got.status, got.location)
		}
		if st := b.get(e.issuer + "/"); st.url.Path != "/login" {
			t.Errorf("still signed in after logout (landed on %s)", st.url)
		}
		if !e.hasAudit("signed out of ward at the request of client " + a.id) {
			t.Error("sign-out not audited")
		}
	})
}
