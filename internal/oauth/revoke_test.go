package oauth_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"ward/internal/client"
	"ward/internal/directory"
	"ward/internal/testutil"
)

// grant is what an app holds after signing someone in: its tokens, and the
// browser that signed in.
type grant struct {
	access, refresh string
	b               *browser
}

// launch runs the authorization code flow for email through a (a staff
// member picks patient on the consent page) and returns the tokens.
func (a *app) launch(email, patient, state string) grant {
	a.e.t.Helper()
	b := a.e.browser()
	state = "state-" + state // fosite wants at least 8 characters
	v, _ := pkce(state)
	p := b.get(a.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(v), oidc.Nonce("nonce-"+state)))
	if strings.Contains(p.body, `name="password"`) {
		p = b.signIn(p, email, patientPassword)
	}
	if strings.Contains(p.body, `name="decision"`) {
		extra := url.Values{}
		if patient != "" {
			extra.Set("patient", patient)
		}
		p = b.consent(p, "allow", extra)
	}
	tok, err := a.conf.Exchange(context.Background(), codeFrom(a.e.t, p, state), oauth2.VerifierOption(v))
	if err != nil {
		a.e.t.Fatalf("exchange for %s: %v", email, err)
	}
	if tok.RefreshToken == "" {
		a.e.t.Fatalf("no refresh token for %s", email)
	}
	return grant{access: tok.AccessToken, refresh: tok.RefreshToken, b: b}
}

// refresh redeems a refresh token and returns the status and the answer.
func (a *app) refresh(rt string, extra url.Values) (int, map[string]any) {
	a.e.t.Helper()
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {a.id}}
	for k, v := range extra {
		f[k] = v
	}
	st, _, out := a.e.postForm("/oauth/token", f, "", "")
	return st, out
}

// liveness checks a grant against every way of using it: refresh,
// introspection of both tokens, a FHIR read of patientID, userinfo and the
// token status tool. The refresh comes last (it rotates the tokens).
type liveness struct {
	e            *env
	a            *app
	rs, rsSecret string
}

func newLiveness(e *env, a *app) liveness {
	rs, sec := e.client(client.Settings{Name: "Resource server", GrantTypes: []string{client.GrantClientCredentials},
		Scope: "system/*.rs", ResourceServer: true})
	return liveness{e: e, a: a, rs: rs, rsSecret: sec}
}

func (l liveness) wantLive(t *testing.T, what string, g grant, patientID int64) grant {
	t.Helper()
	if in := l.e.introspect(g.access, l.rs, l.rsSecret); in["active"] != true {
		t.Fatalf("%s: access token inactive before the change: %v", what, in)
	}
	if st, _, _ := l.e.bearerGet("/fhir/Patient/"+strconv.FormatInt(patientID, 10), g.access); st != http.StatusOK {
		t.Fatalf("%s: FHIR read before the change: %d", what, st)
	}
	st, out := l.a.refresh(g.refresh, nil)
	if st != http.StatusOK {
		t.Fatalf("%s: refresh before the change: %d %v", what, st, out)
	}
	return grant{access: out["access_token"].(string), refresh: out["refresh_token"].(string), b: g.b}
}

func (l liveness) wantDead(t *testing.T, what string, g grant, patientID int64) {
	t.Helper()
	if in := l.e.introspect(g.access, l.rs, l.rsSecret); in["active"] != false {
		t.Errorf("%s: access token still active at introspection: %v", what, in)
	}
	if in := l.e.introspect(g.refresh, l.rs, l.rsSecret); in["active"] != false {
		t.Errorf("%s: refresh token still active at introspection: %v", what, in)
	}
	if st, _, _ := l.e.bearerGet("/fhir/Patient/"+strconv.FormatInt(patientID, 10), g.access); st != http.StatusUnauthorized {
		t.Errorf("%s: FHIR read answered %d, want 401", what, st)
	}
	if st, _, _ := l.e.bearerGet("/oauth/userinfo", g.access); st != http.StatusUnauthorized {
		t.Errorf("%s: userinfo answered %d, want 401", what, st)
	}
	if st, _, _ := l.e.bearerGet("/oauth/token-status", g.access); st != http.StatusUnauthorized {
		t.Errorf("%s: token status answered %d, want 401", what, st)
	}
	if st, out := l.a.refresh(g.refresh, nil); st != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Errorf("%s: refresh answered %d %v, want 400 invalid_grant", what, st, out)
	}
}

const revokeScopes = "openid fhirUser profile offline_access launch/patient patient/*.rs"

// TestDeletedPatientsTokensDie is issue 10 finding 1: after DELETE
// /api/user/{id} a patient's refresh token kept rotating and their access
// token read their data. Deleting them revokes their tokens and sessions
// in the same transaction, and reactivating them brings none back.
func TestDeletedPatientsTokensDie(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		pat := e.user("pat@example.org", patientPassword, "patient")
		bystander := e.user("by@example.org", patientPassword, "patient")
		a := newApp(t, e, revokeScopes)
		l := newLiveness(e, a)

		g := l.wantLive(t, "patient", a.launch(pat.Email, "", "pat-1"), pat.ID)
		other := a.launch(bystander.Email, "", "by-1")
		// As the probe did it: DELETE /api/user/{id} by a signed-in admin.
		e.user("admin@example.org", patientPassword, "admin")
		admin := e.browser()
		admin.signIn(admin.get(e.issuer+"/login"), "admin@example.org", patientPassword)
		req, _ := http.NewRequest(http.MethodDelete, e.issuer+"/api/user/"+strconv.FormatInt(pat.ID, 10), nil)
		req.Header.Set("Origin", e.issuer)
		res := admin.read(admin.c.Do(req))
		if res.status >= 300 {
			t.Fatalf("DELETE /api/user/%d: %d %s", pat.ID, res.status, res.body)
		}
		l.wantDead(t, "deleted patient", g, pat.ID)
		if st := g.b.get(e.issuer + "/"); st.url.Path != "/login" {
			t.Errorf("the deleted patient's browser is still signed in (landed on %s)", st.url)
		}
		if !e.hasAudit("marked user "+strconv.FormatInt(pat.ID, 10)+" deleted", "tokens and sessions revoked") {
			t.Error("the revocation is not in the deletion's audit event")
		}

		// Reactivating the person brings neither the tokens nor the session back.
		if _, err := e.svc.Directory.ReactivateUser(e.sys(), pat.ID); err != nil {
			t.Fatal(err)
		}
		l.wantDead(t, "reactivated patient", g, pat.ID)
		if st := g.b.get(e.issuer + "/"); st.url.Path != "/login" {
			t.Errorf("the reactivated patient's old session came back (landed on %s)", st.url)
		}
		// Someone else's grant with the same app is untouched.
		l.wantLive(t, "another patient", other, bystander.ID)
		// The person signs in again and gets new tokens.
		l.wantLive(t, "signed in again", a.launch(pat.Email, "", "pat-2"), pat.ID)
	})
}

// TestDeletedPersonsRowIsCheckedAtUse: a token whose row is still active
// (issued in a race with the deletion, or a person deleted behind the
// directory's back) is refused on every path because the person is.
func TestDeletedPersonsRowIsCheckedAtUse(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		pat := e.user("pat@example.org", patientPassword, "patient")
		a := newApp(t, e, revokeScopes)
		l := newLiveness(e, a)
		g := l.wantLive(t, "patient", a.launch(pat.Email, "", "row-1"), pat.ID)

		at := time.Now()
		if err := e.svc.DB.SetUserDeleted(context.Background(), pat.ID, &at); err != nil {
			t.Fatal(err)
		}
		l.wantDead(t, "person deleted in the store only", g, pat.ID)
	})
}

// staffSetup is a clinic with a staff member and a consented patient.
type staffSetup struct {
	org        *directory.Organization
	staff, pat *directory.User
}

func newStaffSetup(t *testing.T, e *env) staffSetup {
	t.Helper()
	sys := e.sys()
	org, err := e.svc.Directory.CreateOrganization(sys, &directory.Organization{Name: "Clinic"})
	if err != nil {
		t.Fatal(err)
	}
	staff := e.user("staff@example.org", patientPassword, "staff")
	if _, err := e.svc.Directory.SetUserOrganizations(sys, staff.ID, []int64{org.ID}); err != nil {
		t.Fatal(err)
	}
	pat := e.user("pat@example.org", patientPassword, "patient")
	if _, err := e.svc.Directory.AddConsent(sys, &directory.Consent{UserID: pat.ID, OrganizationID: org.ID}); err != nil {
		t.Fatal(err)
	}
	return staffSetup{org: org, staff: staff, pat: pat}
}

// TestStaffTokensDie: a staff member's launch on a patient dies when the
// staff member is deleted, loses a role, or the patient withdraws (or
// deletes) the consent that let them see the patient; the patient's own
// sign-in survives the consent change.
func TestStaffTokensDie(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		s := newStaffSetup(t, e)
		sys := e.sys()
		a := newApp(t, e, revokeScopes)
		l := newLiveness(e, a)
		pid := strconv.FormatInt(s.pat.ID, 10)

		// Consent withdrawn.
		{
			staffG := l.wantLive(t, "staff launch", a.launch(s.staff.Email, pid, "st-1"), s.pat.ID)
			own := a.launch(s.pat.Email, "", "own-1")
			if _, err := e.svc.Directory.WithdrawConsent(sys, s.pat.ID, s.org.ID); err != nil {
				t.Fatal(err)
			}
			l.wantDead(t, "staff launch after the consent was withdrawn", staffG, s.pat.ID)
			if !e.hasAudit("withdrew consent", "; 2 launch tokens of others revoked") {
				t.Error("the withdrawal's audit event does not count the launch tokens it revoked")
			}
			l.wantLive(t, "the patient's own sign-in", own, s.pat.ID)
		}
		// Consent deleted.
		{
			if _, err := e.svc.Directory.AddConsent(sys, &directory.Consent{UserID: s.pat.ID, OrganizationID: s.org.ID}); err != nil {
				t.Fatal(err)
			}
			staffG := l.wantLive(t, "staff launch", a.launch(s.staff.Email, pid, "st-2"), s.pat.ID)
			if err := e.svc.Directory.DeleteConsent(sys, s.pat.ID, s.org.ID); err != nil {
				t.Fatal(err)
			}
			l.wantDead(t, "staff launch after the consent was deleted", staffG, s.pat.ID)
		}
		// Role removed.
		{
			if _, err := e.svc.Directory.AddConsent(sys, &directory.Consent{UserID: s.pat.ID, OrganizationID: s.org.ID}); err != nil {
				t.Fatal(err)
			}
			staffG := l.wantLive(t, "staff launch", a.launch(s.staff.Email, pid, "st-3"), s.pat.ID)
			// Adding a role takes nothing away: the grant lives on.
			if _, err := e.svc.Directory.AddRoles(sys, s.staff.ID, []string{"clinician"}); err != nil {
				t.Fatal(err)
			}
			staffG = l.wantLive(t, "staff launch after a role was added", staffG, s.pat.ID)
			if _, err := e.svc.Directory.DeleteRoles(sys, s.staff.ID, []string{"staff"}); err != nil {
				t.Fatal(err)
			}
			l.wantDead(t, "staff launch after a role was removed", staffG, s.pat.ID)
			if st := staffG.b.get(e.issuer + "/"); st.url.Path != "/login" {
				t.Errorf("the staff member's session survived the role removal (landed on %s)", st.url)
			}
		}
		// Staff deleted.
		{
			staffG := l.wantLive(t, "staff launch", a.launch(s.staff.Email, pid, "st-4"), s.pat.ID)
			if err := e.svc.Directory.DeleteUser(sys, s.staff.ID); err != nil {
				t.Fatal(err)
			}
			l.wantDead(t, "deleted staff member's launch", staffG, s.pat.ID)
		}
	})
}

// TestStaffLaunchRefreshNeedsReach: what ends a staff member's reach over
// the launch patient without revoking anything (here: they leave the
// organization the consent is with) stops the launch at its next refresh;
// the patient's own grant refreshes on.
func TestStaffLaunchRefreshNeedsReach(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		s := newStaffSetup(t, e)
		a := newApp(t, e, revokeScopes)
		l := newLiveness(e, a)
		staffG := l.wantLive(t, "staff launch", a.launch(s.staff.Email, strconv.FormatInt(s.pat.ID, 10), "reach-1"), s.pat.ID)
		own := a.launch(s.pat.Email, "", "reach-2")

		other, err := e.svc.Directory.CreateOrganization(e.sys(), &directory.Organization{Name: "Elsewhere"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Directory.SetUserOrganizations(e.sys(), s.staff.ID, []int64{other.ID}); err != nil {
			t.Fatal(err)
		}
		if st, out := a.refresh(staffG.refresh, nil); st != http.StatusBadRequest || out["error"] != "invalid_grant" {
			t.Errorf("refresh of a launch on a patient the staff member may no longer see: %d %v, want invalid_grant", st, out)
		}
		l.wantLive(t, "the patient's own grant", own, s.pat.ID)
	})
}

// TestDisabledClientsTokensStayDead: disabling a client revoked nothing,
// so enabling it again brought its tokens back. Now they die with the
// disable, for good.
func TestDisabledClientsTokensStayDead(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		pat := e.user("pat@example.org", patientPassword, "patient")
		a := newApp(t, e, revokeScopes)
		l := newLiveness(e, a)
		g := l.wantLive(t, "before the disable", a.launch(pat.Email, "", "cl-1"), pat.ID)

		if _, err := e.svc.Clients.Disable(e.sys(), a.id); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Clients.Enable(e.sys(), a.id); err != nil {
			t.Fatal(err)
		}
		l.wantDead(t, "disabled and enabled again", g, pat.ID)
		if !e.hasAudit("disabled; 2 tokens revoked") {
			t.Errorf("the disable's audit event does not count the revoked tokens: %q", e.auditComments())
		}
		// The client works again for new grants.
		l.wantLive(t, "a new grant after the enable", a.launch(pat.Email, "", "cl-2"), pat.ID)
	})
}
