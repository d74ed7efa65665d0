package connector

import (
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"ward/internal/apperr"
)

// Status is where a connector's OAuth link stands.
type Status string

// The statuses: unprimed until an administrator completes the browser
// login, connected while its tokens work, disconnected once the remote
// refused a refresh for good (the administrator primes it again).
const (
	StatusUnprimed     Status = "unprimed"
	StatusConnected    Status = "connected"
	StatusDisconnected Status = "disconnected"
)

// Sealed holds a connector's secrets encrypted with ward's keyset (each
// bound to the connector's name); nil for a secret not set.
type Sealed struct {
	ClientSecret []byte
	AccessToken  []byte
	RefreshToken []byte
}

// Connector is one external system ward calls with OAuth tokens. Its
// secrets are only ever held sealed (Secrets); the Service opens them when
// it needs them and never returns them.
type Connector struct {
	ID           int64
	Name         string
	BaseURL      string
	AuthorizeURL string
	TokenURL     string
	ClientID     string
	RedirectURI  string
	Scopes       []string
	// ProfileSystem is the system of the directory identifier holding a
	// person's profile id in the remote system; "" means
	// DefaultProfileSystem(Name). EffectiveProfileSystem resolves it.
	ProfileSystem string
	Status        Status
	// Expiry is when the access token expires (zero: unknown or none).
	Expiry time.Time
	// LastRefresh is when tokens were last obtained (priming or refresh).
	LastRefresh time.Time
	// LastError is the last failure to obtain tokens, for administrators.
	LastError string
	// LeaseUntil, when in the future, is a replica's claim to refresh:
	// others wait for it rather than spend the same refresh token.
	LeaseUntil time.Time
	Secrets    Sealed
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// Version increments with every write; updates compare it.
	Version int64
}

// Settings are what an administrator gives to create a connector.
type Settings struct {
	Name         string
	BaseURL      string
	AuthorizeURL string
	TokenURL     string
	ClientID     string
	ClientSecret string
	RedirectURI  string
	Scopes       []string
	// ProfileSystem is optional ("" is DefaultProfileSystem(Name)).
	ProfileSystem string
}

// DefaultProfileSystem is the identifier system under which a person's
// profile id in connector name's remote system is kept when the connector
// names none (mis.ProfileSystem is this).
func DefaultProfileSystem(name string) string { return "urn:ward:connector:" + name + ":profile" }

// EffectiveProfileSystem is c's profile identifier system: its own, or the
// default for its name.
func (c *Connector) EffectiveProfileSystem() string {
	if c.ProfileSystem != "" {
		return c.ProfileSystem
	}
	return DefaultProfileSystem(c.Name)
}

// CheckProfileSystem refuses a profile system that is not an absolute URI
// (urn:, http:// or https://) of at most 255 bytes of valid text without
// whitespace: it becomes a directory identifier's system.
func CheckProfileSystem(field, v string) error {
	if err := checkText(field, v, 255); err != nil {
		return err
	}
	if strings.IndexFunc(v, unicode.IsSpace) >= 0 {
		return apperr.New(apperr.Invalid, "%s holds no whitespace", field)
	}
	lv := strings.ToLower(v)
	if u, err := url.Parse(v); err != nil || !(strings.HasPrefix(lv, "urn:") && len(v) > 4 ||
		(u.Scheme == "http" || u.Scheme == "https") && u.Host != "") {
		return apperr.New(apperr.Invalid, "%s must be an absolute URI (urn:, http:// or https://)", field)
	}
	return nil
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// CheckName refuses a name that is not 1 to 64 of a-z, 0-9, '_', '.', '-'
// starting with a letter or digit (it appears in URLs and audit refs).
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return apperr.New(apperr.Invalid, "a connector name is 1 to 64 lower-case letters, digits, '_', '.' or '-'")
	}
	return nil
}

// checkText refuses empty, over-long, NUL-bearing or non-UTF-8 text.
func checkText(field, v string, max int) error {
	switch {
	case v == "":
		return apperr.New(apperr.Invalid, "%s is required", field)
	case len(v) > max:
		return apperr.New(apperr.Invalid, "%s is longer than %d bytes", field, max)
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		return apperr.New(apperr.Invalid, "%s is not valid text", field)
	}
	return nil
}

// CheckURL refuses a URL ward may not call: https with a host, or plain
// http to a loopback address when allowPrivate (tests, closed networks;
// WARD_OUTBOUND_ALLOW_PRIVATE=1). The outbound client checks the address
// again when it connects; this catches a mistake when it is typed.
func CheckURL(field, raw string, allowPrivate bool) error {
	if err := checkText(field, raw, 2048); err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return apperr.New(apperr.Invalid, "%s must be an absolute URL with a host, no user information and no fragment", field)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if allowPrivate && loopback(u.Hostname()) {
			return nil
		}
		return apperr.New(apperr.Invalid, "%s must use https (plain http only to loopback with WARD_OUTBOUND_ALLOW_PRIVATE=1)", field)
	}
	return apperr.New(apperr.Invalid, "%s must use https", field)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// Validate lists what is wrong with s, all at once.
func (s *Settings) Validate(allowPrivate bool) error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(CheckName(s.Name))
	add(CheckURL("base_url", s.BaseURL, allowPrivate))
	add(CheckURL("authorize_url", s.AuthorizeURL, allowPrivate))
	add(CheckURL("token_url", s.TokenURL, allowPrivate))
	add(CheckURL("redirect_uri", s.RedirectURI, allowPrivate))
	add(checkText("client_id", s.ClientID, 512))
	add(checkText("client_secret", s.ClientSecret, 2048))
	if s.ProfileSystem != "" {
		add(CheckProfileSystem("profile_system", s.ProfileSystem))
	}
	if len(s.Scopes) > 32 {
		add(apperr.New(apperr.Invalid, "at most 32 scopes"))
	}
	for _, sc := range s.Scopes {
		if err := checkText("scope", sc, 256); err != nil {
			add(err)
			continue
		}
		if strings.ContainsAny(sc, " \t\r\n\"\\") {
			add(apperr.New(apperr.Invalid, "a scope holds no space, quote or backslash"))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = apperr.Message(e)
	}
	return apperr.New(apperr.Invalid, "%s", strings.Join(msgs, "; "))
}
