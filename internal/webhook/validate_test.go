package webhook_test

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/webhook"
)

func TestCheckURL(t *testing.T) {
	for _, c := range []struct {
		url          string
		strict, open bool // accepted without / with AllowPrivate
	}{
		{"https://portal.example.org/hooks?x=1", true, true},
		{"https://portal.example.org:8443/", true, true},
		{"https://203.0.114.9/x", true, true},
		{"https://[2606:4700::1111]/x", true, true},
		{"http://portal.example.org/", false, true},
		{"http://127.0.0.1:9000/", false, true},
		{"https://10.0.0.1/", false, true},
		{"https://[::1]/", false, true},
		{"https://[::ffff:127.0.0.1]/", false, true},
		{"https://169.254.169.254/", false, true},
		{"https://localhost/", false, true},
		{"https://LOCALHOST./", false, true},
		{"https://x.localhost/", false, true},
		{"ftp://portal.example.org/", false, false},
		{"javascript:alert(1)", false, false},
		{"mailto:a@example.org", false, false},
		{"https:opaque", false, false},
		{"//portal.example.org/", false, false},
		{"https://", false, false},
		{"https://user:pw@portal.example.org/", false, false},
		{"https://portal.example.org/#f", false, false},
		{"https://portal.example.org/#", false, false},
		{"https://portal.example.org/\x00", false, false},
		{"https://portal.example.org/\x7f", false, false},
		{"https://portal.example.org/\xff", false, false},
		{"https://portal.example.org/" + strings.Repeat("a", 2048), false, false},
		{"", false, false},
	} {
		for _, allow := range []bool{false, true} {
			want := c.strict
			if allow {
				want = c.open
			}
			err := webhook.CheckURL(c.url, allow, nil)
			if (err == nil) != want {
				t.Errorf("CheckURL(%q, allowPrivate=%v) = %v, want accepted=%v", c.url, allow, err, want)
			}
			if err != nil && !apperr.Is(err, apperr.Invalid) {
				t.Errorf("CheckURL(%q): %v is not Invalid", c.url, err)
			}
		}
	}
}

func TestCheckEvents(t *testing.T) {
	got, err := webhook.CheckEvents([]string{"user.updated", "consent.created", "user.updated"})
	if err != nil || len(got) != 2 || got[0] != audit.ConsentCreated || got[1] != audit.UserUpdated {
		t.Fatalf("CheckEvents = %v, %v; want sorted without duplicates", got, err)
	}
	many := make([]string, webhook.MaxEvents+1)
	for i := range many {
		many[i] = "user.created"
	}
	for _, bad := range [][]string{nil, {}, {"user.exploded"}, {"user.created", ""}, {"\x00"}, many} {
		if _, err := webhook.CheckEvents(bad); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("CheckEvents(%q) = %v, want Invalid", bad, err)
		}
	}
	// The message names an unknown type, but never echoes garbage.
	_, err = webhook.CheckEvents([]string{"user.exploded"})
	if !strings.Contains(apperr.Message(err), "user.exploded") {
		t.Errorf("message %q does not name the type", apperr.Message(err))
	}
}

// FuzzCheckURL: no input panics, and every URL accepted without
// AllowPrivate is https with a host, valid text, no control characters,
// user information or fragment.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://a.example.org/", "http://127.0.0.1/", "https://[::1]:80/x", "https://u@h/#f",
		"https://%zz/", "https://h/\x00", "https://1.1.1.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if webhook.CheckURL(raw, true, nil) != nil {
			if webhook.CheckURL(raw, false, nil) == nil {
				t.Fatalf("%q accepted strictly but refused with AllowPrivate", raw)
			}
			return
		}
		if webhook.CheckURL(raw, false, nil) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" || u.Hostname() == "" || u.User != nil || u.Fragment != "" ||
			!utf8.ValidString(raw) || strings.ContainsAny(raw, "\x00\r\n\t#") {
			t.Fatalf("%q accepted strictly", raw)
		}
	})
}
