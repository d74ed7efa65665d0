package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"ward/internal/grantpolicy"
	"ward/internal/testutil"
)

// FuzzClientBody sends arbitrary bodies to POST /api/client, the
// client-registration body as the management API parses it (huma's JSON
// decoding and schema checks, then the registry's validation and the
// grant policy), as an application developer and as an administrator.
// Whatever the body: never a 5xx, every refusal a problem document, and a
// developer's accepted client is pending, without client_credentials and
// within the developer scope set.
func FuzzClientBody(f *testing.F) {
	for _, seed := range []string{
		`{"client_name":"App","public":true,"grant_types":["authorization_code"],"redirect_uris":["https://app.example.org/cb"],"scope":"openid fhirUser launch/patient patient/*.rs"}`,
		`{"client_name":"Backend","grant_types":["client_credentials"],"scope":"system/*.cruds"}`,
		`{"client_name":"Backend","grant_types":["client_credentials","authorization_code"],"redirect_uris":["http://127.0.0.1:9/cb"],"scope":"user/*.rs system/Patient.$export"}`,
		`{"client_name":"API","grant_types":["authorization_code","refresh_token"],"redirect_uris":["https://a.example/cb"],"scope":"openid offline_access ward:api"}`,
		`{"client_name":"Keys","grant_types":["authorization_code"],"redirect_uris":["https://a.example/cb"],"scope":"openid","token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}}`,
		`{"client_name":"Owner","grant_types":["authorization_code"],"redirect_uris":["https://a.example/cb"],"scope":"openid","owner_id":1}`,
		`{"client_name":"\u0000","grant_types":[""],"scope":" "}`,
		`{"client_name":"x","grant_types":null,"scope":"patient/*.rs?code=http://loinc.org|1234-5","access_token_format":"jwt"}`,
		`{"client_name":"x","grant_types":["authorization_code"],"redirect_uris":["https://a.example/cb#frag","javascript:alert(1)"],"scope":"openid"}`,
		`{}`, `[]`, `null`, `{"client_name":1}`, "{\"client_name\":\"\xff\"}", `not json`,
	} {
		f.Add([]byte(seed))
	}
	ce := newClientEnv(f, testutil.SQLiteURL(f))
	f.Fuzz(func(t *testing.T, body []byte) {
		e := *ce.env
		e.t = t
		for _, as := range []int64{ce.dev, e.adminID} {
			res := e.doWith(e.h, "POST", "/api/client", as, body)
			switch {
			case res.status >= 500:
				t.Fatalf("%d for %q: %s", res.status, body, res.body)
			case res.status == http.StatusCreated:
				var c struct {
					GrantTypes []string `json:"grant_types"`
					Scope      string   `json:"scope"`
					Status     string   `json:"status"`
					ClientID   string   `json:"client_id"`
				}
				if err := json.Unmarshal(res.body, &c); err != nil || c.ClientID == "" || len(c.GrantTypes) == 0 || c.Scope == "" {
					t.Fatalf("accepted %q as %s (%v)", body, res.body, err)
				}
				if as != ce.dev {
					continue
				}
				if c.Status != grantpolicy.StatusPending || slices.Contains(c.GrantTypes, grantpolicy.GrantClientCredentials) {
					t.Fatalf("a developer registered %s", res.body)
				}
				for _, s := range strings.Fields(c.Scope) {
					if !grantpolicy.DeveloperScope(s) {
						t.Fatalf("a developer's client got scope %q: %s", s, res.body)
					}
				}
			case res.status >= 400:
				if ct := res.header.Get("Content-Type"); ct != "application/problem+json" {
					t.Fatalf("%d as %q for %q", res.status, ct, body)
				}
			default:
				t.Fatalf("unexpected %d for %q", res.status, body)
			}
		}
	})
}
