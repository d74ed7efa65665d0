package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"ward/internal/directory"
	"ward/internal/testutil"
)

type idpClientDoc struct {
	ClientID   string  `json:"client_id"`
	Name       string  `json:"name"`
	Revoked    bool    `json:"revoked"`
	XAuthToken *string `json:"x_auth_token"`
}

// TestIDPClientAPI: an administrator registers, lists, rotates and revokes
// system clients; a developer, a staff admin, a patient and an anonymous
// caller are refused every one of those, beside the allowed case.
func TestIDPClientAPI(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newClientEnv(t, url)
		staffAdmin := e.createUser("sa@example.org", "S", "A", []string{directory.RoleStaffAdmin}, nil)
		patient := e.createUser("p@example.org", "P", "T", []string{directory.RolePatient}, nil)

		var c idpClientDoc
		e.must(e.do("POST", "/api/idp-client", e.adminID, map[string]any{"name": "SHR @ DGHS MIS"}), http.StatusCreated, &c)
		if c.ClientID == "" || c.XAuthToken == nil || len(*c.XAuthToken) < 43 || c.Name != "SHR @ DGHS MIS" {
			t.Fatalf("created %+v", c)
		}
		if _, err := e.clients.AuthenticateSystem(context.Background(), c.ClientID, *c.XAuthToken); err != nil {
			t.Fatalf("the issued token does not authenticate: %v", err)
		}
		path := "/api/idp-client/" + c.ClientID

		for _, who := range []struct {
			name string
			id   int64
			want int
		}{
			{"developer", e.dev, http.StatusForbidden},
			{"staff_admin", staffAdmin, http.StatusForbidden},
			{"patient", patient, http.StatusForbidden},
			{"anonymous", 0, http.StatusUnauthorized},
		} {
			for _, req := range []struct{ method, path string }{
				{"POST", "/api/idp-client"}, {"GET", "/api/idp-client"},
				{"POST", path + "/rotate"}, {"POST", path + "/revoke"},
			} {
				var body any
				if req.path == "/api/idp-client" && req.method == "POST" {
					body = map[string]any{"name": "Rogue"}
				}
				res := e.do(req.method, req.path, who.id, body)
				e.problem(res, who.want)
				if strings.Contains(string(res.body), "x_auth_token") {
					t.Errorf("%s %s as %s leaked a token: %s", req.method, req.path, who.name, res.body)
				}
			}
		}

		var page struct{ Clients []idpClientDoc }
		e.must(e.do("GET", "/api/idp-client", e.adminID, nil), http.StatusOK, &page)
		if len(page.Clients) != 1 || page.Clients[0].ClientID != c.ClientID || page.Clients[0].XAuthToken != nil {
			t.Fatalf("list = %+v", page)
		}
		var rotated idpClientDoc
		e.must(e.do("POST", path+"/rotate", e.adminID, nil), http.StatusOK, &rotated)
		if rotated.XAuthToken == nil || *rotated.XAuthToken == *c.XAuthToken {
			t.Fatalf("rotate = %+v", rotated)
		}
		if _, err := e.clients.AuthenticateSystem(context.Background(), c.ClientID, *c.XAuthToken); err == nil {
			t.Error("the rotated-out token still authenticates")
		}
		var revoked idpClientDoc
		e.must(e.do("POST", path+"/revoke", e.adminID, nil), http.StatusOK, &revoked)
		if !revoked.Revoked {
			t.Fatalf("revoke = %+v", revoked)
		}
		if _, err := e.clients.AuthenticateSystem(context.Background(), c.ClientID, *rotated.XAuthToken); err == nil {
			t.Error("a revoked system client still authenticates")
		}
		// An ordinary client is not a system client here; bad names are 400.
		e.problem(e.do("POST", "/api/idp-client/nosuch/rotate", e.adminID, nil), http.StatusNotFound)
		e.problem(e.do("POST", "/api/idp-client", e.adminID, map[string]any{"name": "bad\x00name"}), http.StatusBadRequest)
		e.problem(e.do("POST", "/api/idp-client", e.adminID, map[string]any{"name": "x", "organization_id": 999999}), http.StatusBadRequest)
	})
}
