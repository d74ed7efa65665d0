package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/client"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/integration"
	"ward/internal/oauth"
	"ward/internal/testutil"
	"ward/internal/webhook"
)

// ccToken asks the token endpoint for a client_credentials token.
func ccToken(t *testing.T, h http.Handler, clientID, secret, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	req := httptest.NewRequest(http.MethodPost, oauth.PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.AccessToken == "" {
		t.Fatalf("token for %s (%s): %d %s", clientID, scope, rec.Code, rec.Body)
	}
	return body.AccessToken
}

// bearerCall sends body (JSON when not empty) with a bearer token.
func bearerCall(h http.Handler, method, target, token, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestIssue15DoneMeans walks issue 15's "Done means" on both databases,
// through the HTTP API of a running server (River working the jobs):
//   - a portal (a system client) subscribes its own webhook, submits a
//     self-registration Task, and receives a signed webhook for the
//     submission and for each status change a registry office makes, in
//     order;
//   - an integration receives its pushed token and calls $match with it.
//
// The receiver that is down for a while and then receives every missed
// event in order is internal/webhook's TestDeliveryFailsHangsRecovers.
func TestIssue15DoneMeans(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		sys := actor.System(context.Background())
		srv := newServer(t, dbURL, func(c *config.Config) { c.OutboundAllowPrivate = true })
		testutil.Serve(t, srv, testutil.Listen(t))
		h, svc := srv.Handler(), srv.Services()

		portal, portalSecret, err := svc.Clients.Create(sys, client.Settings{Name: "Self-service portal",
			GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/Task.crs ward:api"})
		if err != nil {
			t.Fatal(err)
		}
		office, officeSecret, err := svc.Clients.Create(sys, client.Settings{Name: "Registry office",
			GrantTypes: []string{client.GrantClientCredentials},
			Scope:      "system/Task.rs system/Task.validate system/Task.register system/Task.certify system/Task.issue"})
		if err != nil {
			t.Fatal(err)
		}
		portalTok := ccToken(t, h, portal.ID, portalSecret, "system/Task.crs ward:api")
		officeTok := ccToken(t, h, office.ID, officeSecret,
			"system/Task.rs system/Task.validate system/Task.register system/Task.certify system/Task.issue")

		// The portal subscribes itself; the secret is shown once.
		hooks := newReceiver(t)
		rec := bearerCall(h, http.MethodPost, "/api/webhook", portalTok, "application/json",
			`{"url":"`+hooks.srv.URL+`/ward","events":["task.created","task.status_changed"],"description":"declarations"}`)
		var sub struct{ ID, Secret string }
		if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &sub) != nil || sub.Secret == "" {
			t.Fatalf("subscribe: %d %s", rec.Code, rec.Body)
		}
		// The registry office may not read or change the portal's webhook.
		if rec := bearerCall(h, http.MethodGet, "/api/webhook/"+sub.ID, officeTok, "", ""); rec.Code != http.StatusForbidden &&
			rec.Code != http.StatusUnauthorized {
			t.Fatalf("another client read the portal's webhook: %d", rec.Code)
		}

		// The portal submits a self-registration.
		rec = bearerCall(h, http.MethodPost, "/fhir/Task", portalTok, "application/fhir+json",
			`{"resourceType":"Task","status":"requested","intent":"proposal","code":{"text":"birth declaration"},
			  "for":{"display":"Baby Nakato"},
			  "owner":{"identifier":{"system":"urn:portal","value":"home"},"display":"Self-service portal"},
			  "input":[{"type":{"text":"child name"},"valueString":"Nakato"}]}`)
		var task struct{ ID string }
		if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &task) != nil || task.ID == "" {
			t.Fatalf("submit: %d %s", rec.Code, rec.Body)
		}
		// The portal holds no action scope: its own declaration is not its
		// to validate.
		if rec := bearerCall(h, http.MethodPost, "/fhir/Task/"+task.ID+"/$validate-declaration", portalTok, "", ""); rec.Code != http.StatusForbidden {
			t.Fatalf("the portal validated its own declaration: %d", rec.Code)
		}
		steps := []struct{ op, to string }{{"validate-declaration", "validated"}, {"register", "registered"},
			{"certify", "certified"}, {"issue", "issued"}}
		for _, s := range steps {
			if rec := bearerCall(h, http.MethodPost, "/fhir/Task/"+task.ID+"/$"+s.op, officeTok, "", ""); rec.Code != http.StatusOK {
				t.Fatalf("$%s: %d %s", s.op, rec.Code, rec.Body)
			}
		}
		// An illegal step is refused and emits nothing.
		if rec := bearerCall(h, http.MethodPost, "/fhir/Task/"+task.ID+"/$certify", officeTok, "", ""); rec.Code != http.StatusConflict {
			t.Fatalf("$certify after issue: %d", rec.Code)
		}

		type event struct {
			Type string
			Data struct {
				Subject string
				Fields  map[string]any
			}
		}
		// Wait for every delivery, then read them in the order received
		// (one subject's deliveries go one after the other).
		for range 1 + len(steps) {
			hooks.wait(t)
		}
		var got []event
		for _, r := range hooks.all() {
			if err := webhook.Verify(sub.Secret, r.headers, r.body, time.Now(), 5*time.Minute); err != nil {
				t.Fatalf("signature of %s: %v", r.body, err)
			}
			var e event
			if err := json.Unmarshal(r.body, &e); err != nil {
				t.Fatalf("payload %s: %v", r.body, err)
			}
			got = append(got, e)
		}
		if got[0].Type != "task.created" || got[0].Data.Subject != "Task/"+task.ID {
			t.Fatalf("first delivery: %+v", got[0])
		}
		for i, s := range steps {
			e := got[i+1]
			if e.Type != "task.status_changed" || e.Data.Subject != "Task/"+task.ID || e.Data.Fields["to"] != s.to {
				t.Fatalf("delivery %d: %+v, want the change to %s", i+1, e, s.to)
			}
		}
		// The refused $certify emitted nothing: the count is exact.
		if n := hooks.count(); n != 1+len(steps) {
			t.Fatalf("%d deliveries, want %d", n, 1+len(steps))
		}

		// An integration receives its pushed token and calls $match.
		if _, err := svc.Directory.CreateUser(sys, directory.NewUser{User: directory.User{Email: "nakato@example.org",
			GivenName: "Amara", FamilyName: "Nakato"}, Roles: []string{directory.RolePatient}}); err != nil {
			t.Fatal(err)
		}
		registry, _, err := svc.Clients.Create(sys, client.Settings{Name: "Civil registry",
			GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/Patient.rs"})
		if err != nil {
			t.Fatal(err)
		}
		tokens := newReceiver(t)
		created, err := svc.Integrations.Create(sys, integration.NewIntegration{ClientID: registry.ID, URL: tokens.srv.URL + "/token"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Integrations.PushNow(sys, created.ID); err != nil {
			t.Fatal(err)
		}
		pushed := tokens.wait(t)
		if err := webhook.Verify(created.Secret, pushed.headers, pushed.body, time.Now(), 5*time.Minute); err != nil {
			t.Fatalf("the push's signature: %v", err)
		}
		rec = bearerCall(h, http.MethodPost, "/fhir/Patient/$match", pushed.payload.AccessToken, "application/fhir+json",
			`{"resourceType":"Parameters","parameter":[{"name":"resource","resource":
			  {"resourceType":"Patient","name":[{"family":"Nakato","given":["Amara"]}],"telecom":[{"system":"email","value":"nakato@example.org"}]}}]}`)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"searchset"`) ||
			!strings.Contains(rec.Body.String(), `"score"`) {
			t.Fatalf("$match with the pushed token: %d %s", rec.Code, rec.Body)
		}
	})
}
