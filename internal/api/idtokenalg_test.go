package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"ward/internal/testutil"
)

// TestClientAPIIDTokenAlg: id_token_signed_response_alg goes in through
// POST and PUT and comes back from GET (RS256 when none was given, as OpenID
// Connect Core makes it); an application developer may choose either
// algorithm, and changing it does not send an approved client back to
// pending (it gives the client no new power); anything else is a 400 naming
// the field; a caller who may not register clients is refused whatever the
// algorithm; the OpenAPI document lists the two values.
func TestClientAPIIDTokenAlg(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newClientEnv(t, url)
		type doc struct {
			clientDoc
			IDTokenAlg string `json:"id_token_signed_response_alg"`
			Status     string `json:"status"`
		}

		var def doc
		e.must(e.do("POST", "/api/client", e.adminID, clientBody("Default")), http.StatusCreated, &def)
		if def.IDTokenAlg != "RS256" {
			t.Fatalf("default client: id_token_signed_response_alg %q, want RS256", def.IDTokenAlg)
		}

		body := clientBody("Elliptic")
		body["id_token_signed_response_alg"] = "ES256"
		var es doc
		e.must(e.do("POST", "/api/client", e.dev, body), http.StatusCreated, &es)
		if es.IDTokenAlg != "ES256" {
			t.Fatalf("developer's ES256 client answered %q", es.IDTokenAlg)
		}
		path := "/api/client/" + es.ClientID
		var got doc
		e.must(e.do("GET", path, e.dev, nil), http.StatusOK, &got)
		if got.IDTokenAlg != "ES256" {
			t.Fatalf("GET shows %q, want ES256", got.IDTokenAlg)
		}
		e.must(e.do("POST", path+"/approve", e.adminID, nil), http.StatusOK, &got)

		// PUT changes it; an approved client stays approved.
		body["id_token_signed_response_alg"] = "RS256"
		e.must(e.do("PUT", path, e.dev, body), http.StatusOK, &got)
		if got.IDTokenAlg != "RS256" || got.Status != "active" {
			t.Fatalf("after PUT RS256: alg %q status %q", got.IDTokenAlg, got.Status)
		}
		body["id_token_signed_response_alg"] = "ES256"
		e.must(e.do("PUT", path, e.dev, body), http.StatusOK, &got)
		if got.IDTokenAlg != "ES256" || got.Status != "active" {
			t.Fatalf("after PUT ES256: alg %q status %q", got.IDTokenAlg, got.Status)
		}

		var listed struct {
			Clients []doc `json:"clients"`
		}
		e.must(e.do("GET", "/api/client", e.adminID, nil), http.StatusOK, &listed)
		algs := map[string]string{}
		for _, c := range listed.Clients {
			algs[c.ClientID] = c.IDTokenAlg
		}
		if algs[def.ClientID] != "RS256" || algs[es.ClientID] != "ES256" {
			t.Fatalf("list shows %v", algs)
		}

		for _, bad := range []any{"none", "HS256", "rs256", "ES384", "", "RS256\x00", "\xff", strings.Repeat("R", 10000), 256, nil, []string{"RS256"}} {
			b := clientBody("Bad")
			b["id_token_signed_response_alg"] = bad
			if bad == nil || bad == "" {
				// JSON null and "" are "not given" to most clients; ward
				// may take them as the default or refuse them, never 500.
				res := e.do("POST", "/api/client", e.adminID, b)
				if res.status != http.StatusCreated && res.status != http.StatusBadRequest {
					t.Fatalf("alg %#v: status %d %s", bad, res.status, res.body)
				}
				continue
			}
			p := e.problem(e.do("POST", "/api/client", e.adminID, b), http.StatusBadRequest)
			if !strings.Contains(p.Detail, "id_token_signed_response_alg") {
				t.Errorf("alg %#v: detail %q does not name id_token_signed_response_alg", bad, p.Detail)
			}
			p = e.problem(e.do("PUT", path, e.dev, b), http.StatusBadRequest)
			if !strings.Contains(p.Detail, "id_token_signed_response_alg") {
				t.Errorf("PUT alg %#v: detail %q does not name id_token_signed_response_alg", bad, p.Detail)
			}
		}
		e.must(e.do("GET", path, e.dev, nil), http.StatusOK, &got)
		if got.IDTokenAlg != "ES256" {
			t.Fatalf("refused PUTs changed the alg to %q", got.IDTokenAlg)
		}

		// Refused callers: staff may not register a client, nor change
		// another's; an anonymous caller is asked to sign in.
		e.problem(e.do("POST", "/api/client", e.staff, body), http.StatusForbidden)
		e.problem(e.do("PUT", path, e.dev2, body), http.StatusForbidden)
		e.problem(e.do("POST", "/api/client", 0, body), http.StatusUnauthorized)

		var spec struct {
			Components struct {
				Schemas map[string]struct {
					Properties map[string]struct {
						Enum []string `json:"enum"`
					} `json:"properties"`
				} `json:"schemas"`
			} `json:"components"`
		}
		e.must(e.do("GET", "/api/openapi.json", 0, nil), http.StatusOK, &spec)
		found := 0
		for name, s := range spec.Components.Schemas {
			if p, ok := s.Properties["id_token_signed_response_alg"]; ok {
				found++
				if b, _ := json.Marshal(p.Enum); string(b) != `["RS256","ES256"]` {
					t.Errorf("OpenAPI schema %s: enum %s", name, b)
				}
			}
		}
		if found < 2 {
			t.Errorf("OpenAPI shows id_token_signed_response_alg in %d schemas, want the body and the answer", found)
		}
	})
}
