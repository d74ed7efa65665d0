package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"ward/internal/directory"
	"ward/internal/testutil"
)

// concurrently runs fn(i) for i in [0, n) at once and returns each answer.
// Every goroutine waits on one gate, so the requests overlap as much as
// the machine allows.
func concurrently(n int, fn func(i int) response) []response {
	out := make([]response, n)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			out[i] = fn(i)
		}()
	}
	close(gate)
	wg.Wait()
	return out
}

// requestRaw is doWith without the *testing.T calls that may not run off
// the test goroutine: the body is JSON-encoded by the caller.
func (e *env) requestRaw(method, path string, as int64, body string) response {
	return e.doWith(e.h, method, path, as, body)
}

// auditComments returns the comments of every audit event about user id.
func (e *env) auditComments(id int64) []string {
	e.t.Helper()
	var out []string
	path := fmt.Sprintf("/api/user/%d/audit?limit=1000", id)
	var page struct {
		Events []struct {
			Comment string `json:"comment"`
		} `json:"events"`
	}
	e.must(e.do("GET", path, e.adminID, nil), http.StatusOK, &page)
	for _, ev := range page.Events {
		out = append(out, ev.Comment)
	}
	return out
}

// noUnaskedRemovals fails when an audit event about user id records a
// removal: the concurrency tests only ever add.
func (e *env) noUnaskedRemovals(id int64) {
	e.t.Helper()
	for _, c := range e.auditComments(id) {
		if strings.Contains(c, "removed [") && !strings.Contains(c, "removed []") {
			e.t.Errorf("audit of user %d records a removal nobody asked for: %q", id, c)
		}
	}
}

// Issue 9 finding 3: 3 users x 20 concurrent organization adds (60 like
// the probe), each acknowledged with 200, must all be kept, and the audit
// log must show only additions.
func TestConcurrentOrganizationAddsAreAllKept(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		const users, perUser = 3, 20
		var uids []int64
		orgs := make([][]int64, users)
		for u := range users {
			uids = append(uids, e.createUser(fmt.Sprintf("p%d@example.org", u), "Pat", "Patient", []string{"patient"}, nil))
			for i := range perUser {
				orgs[u] = append(orgs[u], e.createOrg(fmt.Sprintf("Clinic %d-%d", u, i), 0))
			}
		}
		res := concurrently(users*perUser, func(i int) response {
			u, o := i/perUser, i%perUser
			return e.requestRaw("POST", fmt.Sprintf("/api/user/%d/organization", uids[u]), e.adminID,
				fmt.Sprintf(`{"organizations":[{"organization_id":%d}]}`, orgs[u][o]))
		})
		for i, r := range res {
			if r.status != http.StatusOK {
				t.Errorf("add %d: status %d, body %s", i, r.status, r.body)
			}
		}
		for u, id := range uids {
			var got userOrgsJSON
			e.must(e.do("GET", fmt.Sprintf("/api/user/%d/organization", id), e.adminID, nil), http.StatusOK, &got)
			var ids []int64
			for _, o := range got.Organizations {
				ids = append(ids, o.OrganizationID)
			}
			slices.Sort(ids)
			if !slices.Equal(ids, orgs[u]) {
				t.Errorf("user %d keeps %d of %d acknowledged organizations: %v, want %v", id, len(ids), perUser, ids, orgs[u])
			}
			e.noUnaskedRemovals(id)
		}
	})
}

// liveConsents returns the user's consents that are not deleted.
func (e *env) liveConsents(id int64) []consentDoc {
	e.t.Helper()
	var body struct {
		Consents []consentDoc `json:"consent_agreements"`
	}
	e.must(e.do("GET", fmt.Sprintf("/api/user/%d/consent", id), e.adminID, nil), http.StatusOK, &body)
	var out []consentDoc
	for _, c := range body.Consents {
		if c.Deleted == nil {
			out = append(out, c)
		}
	}
	return out
}

type consentDoc struct {
	OrganizationID int64           `json:"organization_id"`
	Deleted        json.RawMessage `json:"deleted"`
}

type userOrgsJSON struct {
	Organizations []struct {
		OrganizationID int64 `json:"organization_id"`
	} `json:"organizations"`
}

// Adding an organization the user already has is still a 409, also when
// it is already there because a concurrent request added it.
func TestAddOrganizationAlreadyHeldIsConflict(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		org := e.createOrg("Clinic", 0)
		id := e.createUser("p@example.org", "Pat", "Patient", []string{"patient"}, nil)
		body := fmt.Sprintf(`{"organizations":[{"organization_id":%d}]}`, org)
		res := concurrently(10, func(int) response {
			return e.requestRaw("POST", fmt.Sprintf("/api/user/%d/organization", id), e.adminID, body)
		})
		ok := 0
		for _, r := range res {
			switch r.status {
			case http.StatusOK:
				ok++
			case http.StatusConflict:
			default:
				t.Errorf("status %d, body %s", r.status, r.body)
			}
		}
		if ok != 1 {
			t.Errorf("%d of 10 identical adds answered 200, want exactly 1 (the others 409)", ok)
		}
		added := 0
		for _, c := range e.auditComments(id) {
			if strings.Contains(c, fmt.Sprintf("added [%d]", org)) {
				added++
			}
		}
		if added != 1 {
			t.Errorf("%d audit events record the addition, want 1", added)
		}
		// One organization listed twice in one request is bad input.
		other0 := e.createOrg("Twice", 0)
		e.problem(e.do("POST", fmt.Sprintf("/api/user/%d/organization", id), e.adminID,
			map[string]any{"organizations": []map[string]int64{{"organization_id": other0}, {"organization_id": other0}}}),
			http.StatusBadRequest)
		// A user who may not edit the patient is refused, and nothing changes.
		other := e.createOrg("Other", 0)
		stranger := e.createUser("s@example.org", "Sam", "Staff", []string{"staff"}, []int64{other})
		e.problem(e.do("POST", fmt.Sprintf("/api/user/%d/organization", id), stranger,
			map[string]any{"organizations": []map[string]int64{{"organization_id": other}}}), http.StatusForbidden)
	})
}

// Every static role added at once, one request each, is kept.
func TestConcurrentRoleAddsAreAllKept(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		id := e.createUser("p@example.org", "Pat", "Patient", nil, nil)
		var want []string
		for _, r := range directory.StaticRoles {
			want = append(want, r.Name)
		}
		res := concurrently(len(want), func(i int) response {
			return e.requestRaw("POST", fmt.Sprintf("/api/user/%d/roles", id), e.adminID,
				fmt.Sprintf(`{"roles":[{"name":%q}]}`, want[i]))
		})
		for i, r := range res {
			if r.status != http.StatusOK {
				t.Errorf("add role %s: status %d, body %s", want[i], r.status, r.body)
			}
		}
		var got struct {
			Roles []struct {
				Name string `json:"name"`
			} `json:"roles"`
		}
		e.must(e.do("GET", fmt.Sprintf("/api/user/%d/roles", id), e.adminID, nil), http.StatusOK, &got)
		var names []string
		for _, r := range got.Roles {
			names = append(names, r.Name)
		}
		slices.Sort(names)
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Errorf("user keeps %d of %d roles: %v", len(names), len(want), names)
		}
		e.noUnaskedRemovals(id)
	})
}

// 20 distinct identifiers and 20 consents (one per organization) added at
// once are all kept; 20 concurrent adds of one identifier add it once.
func TestConcurrentIdentifierAndConsentAdds(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		const n = 20
		var orgs []int64
		for i := range n {
			orgs = append(orgs, e.createOrg(fmt.Sprintf("Clinic %d", i), 0))
		}
		id := e.createUser("p@example.org", "Pat", "Patient", []string{"patient"}, orgs)
		res := concurrently(2*n, func(i int) response {
			if i < n {
				return e.requestRaw("POST", fmt.Sprintf("/api/user/%d/identifier", id), e.adminID,
					fmt.Sprintf(`{"system":"urn:test:sys","value":"v%02d"}`, i))
			}
			return e.requestRaw("POST", fmt.Sprintf("/api/user/%d/consent", id), e.adminID,
				fmt.Sprintf(`{"organization_id":%d,"agreement_url":"https://example.org/a"}`, orgs[i-n]))
		})
		for i, r := range res {
			if r.status != http.StatusOK && r.status != http.StatusCreated {
				t.Errorf("add %d: status %d, body %s", i, r.status, r.body)
			}
		}
		var idents struct {
			Identifier []directory.Identifier `json:"identifier"`
		}
		e.must(e.do("GET", fmt.Sprintf("/api/user/%d/identifier", id), e.adminID, nil), http.StatusOK, &idents)
		seen := map[string]bool{}
		for _, ident := range idents.Identifier {
			if ident.System == "urn:test:sys" {
				seen[ident.Value] = true
			}
		}
		if len(seen) != n {
			t.Errorf("user keeps %d of %d identifiers", len(seen), n)
		}
		if got := e.liveConsents(id); len(got) != n {
			t.Errorf("user has %d live consents, want %d", len(got), n)
		}

		// 20 consents with one organization at once: each replaces the one
		// before, so exactly one stays live.
		res = concurrently(n, func(int) response {
			return e.requestRaw("POST", fmt.Sprintf("/api/user/%d/consent", id), e.adminID,
				fmt.Sprintf(`{"organization_id":%d,"agreement_url":"https://example.org/b"}`, orgs[0]))
		})
		for _, r := range res {
			if r.status != http.StatusCreated {
				t.Errorf("status %d, body %s", r.status, r.body)
			}
		}
		live := 0
		for _, c := range e.liveConsents(id) {
			if c.OrganizationID == orgs[0] {
				live++
			}
		}
		if live != 1 {
			t.Errorf("%d live consents with organization %d, want 1", live, orgs[0])
		}

		// The same identifier 20 times at once: one 200, the rest 409.
		res = concurrently(n, func(int) response {
			return e.requestRaw("POST", fmt.Sprintf("/api/user/%d/identifier", id), e.adminID,
				`{"system":"urn:test:same","value":"x"}`)
		})
		ok := 0
		for _, r := range res {
			if r.status == http.StatusOK {
				ok++
			} else if r.status != http.StatusConflict {
				t.Errorf("status %d, body %s", r.status, r.body)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d identical identifier adds answered 200, want 1", ok, n)
		}
	})
}
