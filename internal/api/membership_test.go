package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"ward/internal/directory"
	"ward/internal/testutil"
)

// TestMembership drives each write route and reads the result back.
func TestMembership(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		w := e.world()
		user := func(format string) string { return fmt.Sprintf(format, w.patient) }

		// Groups: only an admin creates one; members are set by name.
		e.problem(e.do("POST", "/api/group", w.patient, `{"name":"study-a"}`), http.StatusForbidden)
		e.must(e.do("POST", "/api/group", e.adminID, `{"name":"study-a","description":"Study A"}`), http.StatusCreated, nil)
		e.problem(e.do("POST", "/api/group", e.adminID, `{"name":"study-a"}`), http.StatusConflict)
		var groups struct {
			Groups []directory.Group `json:"groups"`
		}
		e.must(e.do("PUT", user("/api/user/%d/groups"), e.adminID, `{"groups":[{"name":"study-a"}]}`), http.StatusOK, &groups)
		e.must(e.do("GET", user("/api/user/%d/groups"), w.patient, nil), http.StatusOK, &groups)
		if len(groups.Groups) != 1 || groups.Groups[0].Name != "study-a" {
			t.Errorf("groups %+v", groups)
		}

		// Identifiers: one per POST, read back.
		var ids struct {
			Identifier []directory.Identifier `json:"identifier"`
		}
		e.must(e.do("POST", user("/api/user/%d/identifier"), e.adminID, `{"system":"http://example.org/mrn","value":"MRN-7"}`), http.StatusOK, &ids)
		e.must(e.do("GET", user("/api/user/%d/identifier"), w.patient, nil), http.StatusOK, &ids)
		if len(ids.Identifier) != 1 || ids.Identifier[0].Value != "MRN-7" {
			t.Errorf("identifiers %+v", ids)
		}
		e.problem(e.do("POST", user("/api/user/%d/identifier"), e.adminID, `{"system":"","value":"x"}`), http.StatusBadRequest)

		// Profiles.
		var profiles struct {
			Profiles []directory.Profile `json:"profiles"`
		}
		e.must(e.do("PUT", user("/api/user/%d/profiles"), e.adminID, `{"profiles":[{"type":"patient","id":"p-1","catchment":["3026"]}]}`), http.StatusOK, &profiles)
		e.must(e.do("GET", user("/api/user/%d/profiles"), w.patient, nil), http.StatusOK, &profiles)
		if len(profiles.Profiles) != 1 || profiles.Profiles[0].ID != "p-1" || len(profiles.Profiles[0].Catchment) != 1 {
			t.Errorf("profiles %+v", profiles)
		}

		// Relationships.
		var rels struct {
			Relationships []directory.UserRelationship `json:"relationships"`
		}
		e.must(e.do("PUT", user("/api/user/%d/relationships"), e.adminID,
			fmt.Sprintf(`{"relationships":[{"user":%d,"relationship":"partner","other_user":%d}]}`, w.patient, w.stranger)), http.StatusOK, &rels)
		e.must(e.do("GET", user("/api/user/%d/relationships"), w.patient, nil), http.StatusOK, &rels)
		if len(rels.Relationships) != 1 || rels.Relationships[0].OtherUserID != w.stranger {
			t.Errorf("relationships %+v", rels)
		}

		// Organizations: add one, 409 on adding it again, replace.
		var orgs struct {
			Organizations []struct {
				ID int64 `json:"organization_id"`
			} `json:"organizations"`
		}
		e.must(e.do("POST", user("/api/user/%d/organization"), e.adminID, fmt.Sprintf(`{"organizations":[{"organization_id":%d}]}`, w.other)), http.StatusOK, &orgs)
		if len(orgs.Organizations) != 2 {
			t.Errorf("organizations after add %+v", orgs)
		}
		e.problem(e.do("POST", user("/api/user/%d/organization"), e.adminID, fmt.Sprintf(`{"organizations":[{"organization_id":%d}]}`, w.other)), http.StatusConflict)
		e.must(e.do("PUT", user("/api/user/%d/organization"), e.adminID, fmt.Sprintf(`{"organizations":[{"organization_id":%d}]}`, w.child)), http.StatusOK, &orgs)
		e.must(e.do("GET", user("/api/user/%d/organization"), w.patient, nil), http.StatusOK, &orgs)
		if len(orgs.Organizations) != 1 || orgs.Organizations[0].ID != w.child {
			t.Errorf("organizations after replace %+v", orgs)
		}

		// Terms of use: accepted by the signed-in patient.
		e.must(e.do("POST", "/api/tou/accepted", w.patient, `{"agreement_url":"https://example.org/tou","type":"website terms of use"}`), http.StatusCreated, nil)
		var tous struct {
			ToUs []directory.ToU `json:"tous"`
		}
		e.must(e.do("GET", user("/api/user/%d/tou"), w.patient, nil), http.StatusOK, &tous)
		if len(tous.ToUs) != 1 || tous.ToUs[0].UserID != w.patient || tous.ToUs[0].URL != "https://example.org/tou" {
			t.Errorf("terms of use %+v", tous)
		}

		// Withdrawing the consent suspends it.
		var c struct {
			Status string `json:"status"`
		}
		e.must(e.do("POST", user("/api/user/%d/consent/withdraw"), e.adminID, fmt.Sprintf(`{"organization_id":%d}`, w.child)), http.StatusOK, &c)
		if c.Status != directory.ConsentSuspended {
			t.Errorf("withdrawn consent status %q", c.Status)
		}

		// Soft delete and reactivate.
		stranger := fmt.Sprintf("/api/user/%d", w.stranger)
		e.must(e.do("DELETE", stranger, e.adminID, nil), http.StatusNoContent, nil)
		var u struct {
			Deleted *string `json:"deleted"`
		}
		e.must(e.do("GET", stranger, e.adminID, nil), http.StatusOK, &u)
		if u.Deleted == nil {
			t.Errorf("deleted user shows no deleted time")
		}
		u.Deleted = nil // absent from the answer when not deleted
		e.must(e.do("POST", stranger+"/reactivate", e.adminID, nil), http.StatusOK, &u)
		if u.Deleted != nil {
			t.Errorf("reactivated user still deleted at %s", *u.Deleted)
		}

		// Merge: the duplicate's identifier moves over; the duplicate is deleted.
		dup := e.createUser("dup@example.org", "Pat", "Patient", []string{"patient"}, nil)
		e.must(e.do("POST", fmt.Sprintf("/api/user/%d/identifier", dup), e.adminID, `{"system":"http://example.org/other","value":"O-1"}`), http.StatusOK, nil)
		e.problem(e.do("POST", user("/api/user/%d/merge"), w.staff, fmt.Sprintf(`{"from":%d}`, dup)), http.StatusForbidden)
		e.must(e.do("POST", user("/api/user/%d/merge"), e.adminID, fmt.Sprintf(`{"from":%d}`, dup)), http.StatusOK, nil)
		e.must(e.do("GET", user("/api/user/%d/identifier"), e.adminID, nil), http.StatusOK, &ids)
		if len(ids.Identifier) != 2 {
			t.Errorf("identifiers after merge %+v", ids)
		}
		e.must(e.do("GET", fmt.Sprintf("/api/user/%d", dup), e.adminID, nil), http.StatusOK, &u)
		if u.Deleted == nil {
			t.Errorf("merged-away user is not deleted")
		}
	})
}

// TestOrganizationByAlias reads, replaces and deletes an organization named
// by its shortcut alias.
func TestOrganizationByAlias(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		body := fmt.Sprintf(`{"resourceType":"Organization","name":"Alias Clinic","identifier":[{"system":%q,"value":"alias-c"}]}`, directory.ShortcutAliasSystem)
		var o fhirOrg
		e.must(e.do("POST", "/api/organization", e.adminID, body), http.StatusCreated, &o)
		var got fhirOrg
		e.must(e.do("GET", "/api/organization/alias-c", e.adminID, nil), http.StatusOK, &got)
		if got.ID != o.ID {
			t.Fatalf("alias resolves to %q, want %q", got.ID, o.ID)
		}
		renamed := fmt.Sprintf(`{"resourceType":"Organization","id":%q,"name":"Renamed","identifier":[{"system":%q,"value":"alias-c"}]}`, o.ID, directory.ShortcutAliasSystem)
		res := e.do("PUT", "/api/organization/alias-c", e.adminID, renamed)
		e.must(res, http.StatusOK, &got)
		testutil.ValidateFHIR(t, res.body)
		if got.Name != "Renamed" {
			t.Errorf("after PUT name %q", got.Name)
		}
		e.must(e.do("DELETE", "/api/organization/alias-c", e.adminID, nil), http.StatusNoContent, nil)
		e.problem(e.do("GET", "/api/organization/"+o.ID, e.adminID, nil), http.StatusNotFound)
	})
}
