package tokenclient_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"ward/internal/connector"
	"ward/internal/connector/tokenclient"
	"ward/internal/outbound"
)

func TestToken(t *testing.T) {
	var status int
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// RFC 6749 §2.3.1: both are form-encoded before Basic.
		id, secret, ok := r.BasicAuth()
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		if !ok || id != "ward id" || secret != "s:ecret&" || r.FormValue("grant_type") != "refresh_token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	req := connector.TokenRequest{URL: srv.URL, ClientID: "ward id", ClientSecret: "s:ecret&",
		Params: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt-secret-1"}}}
	ep := tokenclient.New(outbound.New(outbound.Policy{AllowPrivate: true}, outbound.Limits{}))

	status, body = 200, `{"access_token":"at-2","refresh_token":"rt-2","expires_in":3600,"token_type":"Bearer"}`
	res, err := ep.Token(t.Context(), req)
	if err != nil || *res != (connector.TokenResponse{AccessToken: "at-2", RefreshToken: "rt-2", ExpiresIn: 3600}) {
		t.Fatalf("200: %+v, %v", res, err)
	}
	for _, c := range []struct {
		status    int
		body      string
		permanent bool
	}{
		{400, `{"error":"invalid_grant","error_description":"rt-secret-1 was used"}`, true},
		{401, `{"error":"invalid_client"}`, true},
		{429, ``, false},
		{503, `{"error":"temporarily_unavailable"}`, false},
		{200, `{"token_type":"Bearer"}`, false},
		{200, `{"access_token":"at","expires_in":"soon"}`, false},
	} {
		status, body = c.status, c.body
		_, err := ep.Token(t.Context(), req)
		if err == nil || connector.Permanent(err) != c.permanent {
			t.Fatalf("%d %s: %v, permanent %t; want permanent %t", c.status, c.body, err, connector.Permanent(err), c.permanent)
		}
		if strings.Contains(err.Error(), "rt-secret-1") || strings.Contains(err.Error(), "s:ecret") {
			t.Fatalf("the error shows a secret: %v", err)
		}
	}
	// Plain http to loopback is refused without WARD_OUTBOUND_ALLOW_PRIVATE.
	strict := tokenclient.New(outbound.New(outbound.Policy{}, outbound.Limits{}))
	if _, err := strict.Token(t.Context(), req); !errors.Is(err, outbound.ErrScheme) || connector.Permanent(err) {
		t.Fatalf("strict policy: %v, want ErrScheme", err)
	}
}
