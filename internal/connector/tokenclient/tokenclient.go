// Package tokenclient posts OAuth token requests (RFC 6749 §4.1.3 code
// exchange, §6 refresh) for internal/connector, through ward's outbound
// client: the policy of internal/outbound (https only but to loopback
// under WARD_OUTBOUND_ALLOW_PRIVATE, address checked at dial time, no
// redirects, bounded time and body) holds for every call.
package tokenclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"ward/internal/connector"
	"ward/internal/outbound"
)

// Endpoint is a connector.TokenEndpoint over an outbound client.
type Endpoint struct{ c *outbound.Client }

// New returns an Endpoint calling through c.
func New(c *outbound.Client) *Endpoint { return &Endpoint{c: c} }

var _ connector.TokenEndpoint = (*Endpoint)(nil)

// Token posts r as a form, the client authenticated with HTTP Basic
// (client_secret_basic, which RFC 6749 §2.3.1 requires servers to accept).
// A 4xx answer is a *connector.GrantError with the RFC 6749 error code;
// anything else that is not 200 with an access token is a plain error.
// No error carries a token, the secret or the response body.
func (e *Endpoint) Token(ctx context.Context, r connector.TokenRequest) (*connector.TokenResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, strings.NewReader(r.Params.Encode()))
	if err != nil {
		return nil, fmt.Errorf("token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(formEscape(r.ClientID), formEscape(r.ClientSecret))
	res, err := e.c.HTTPClient().Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			err = ue.Unwrap() // drop the URL, which repeats nothing secret but the path
		}
		return nil, fmt.Errorf("token endpoint %s: %w", req.URL.Host, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("token endpoint %s: reading the answer: %w", req.URL.Host, err)
	}
	var out struct {
		AccessToken  string      `json:"access_token"`
		RefreshToken string      `json:"refresh_token"`
		ExpiresIn    json.Number `json:"expires_in"`
		Error        string      `json:"error"`
	}
	decodeErr := json.Unmarshal(body, &out) // a refusal's body may be anything
	switch {
	case res.StatusCode >= 400 && res.StatusCode < 500:
		code := out.Error
		if len(code) > 64 || strings.ContainsFunc(code, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
			code = ""
		}
		return nil, &connector.GrantError{Status: res.StatusCode, Code: code}
	case res.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("token endpoint %s: %w", req.URL.Host, &outbound.StatusError{Code: res.StatusCode})
	case decodeErr != nil:
		return nil, fmt.Errorf("token endpoint %s: the answer is not a token response", req.URL.Host)
	case out.AccessToken == "":
		return nil, fmt.Errorf("token endpoint %s: answer without an access token", req.URL.Host)
	}
	var exp int64
	if out.ExpiresIn != "" {
		if exp, err = out.ExpiresIn.Int64(); err != nil || exp < 0 {
			return nil, fmt.Errorf("token endpoint %s: expires_in is not a number of seconds", req.URL.Host)
		}
	}
	return &connector.TokenResponse{AccessToken: out.AccessToken, RefreshToken: out.RefreshToken, ExpiresIn: exp}, nil
}

// formEscape is RFC 6749 §2.3.1's encoding of the client id and secret
// before Basic authentication (application/x-www-form-urlencoded).
func formEscape(s string) string {
	return url.QueryEscape(s)
}
