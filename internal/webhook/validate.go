package webhook

import (
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"ward/internal/apperr"
	"ward/internal/audit"
)

// Limits on what a subscription holds.
const (
	MaxURLBytes         = 2048
	MaxDescriptionBytes = 500
	MaxEvents           = 100
)

// CheckURL refuses a receiver URL ward may not POST to: it must be an
// absolute http or https URL with a host, no user information and no
// fragment, of at most MaxURLBytes of valid text without control
// characters. Unless allowPrivate (WARD_OUTBOUND_ALLOW_PRIVATE=1) it must
// use https, a host written as an IP address must be one public accepts
// (outbound.Public, wired by the server: this package may not import an
// HTTP edge; nil means PublicFallback), and "localhost" is refused.
//
// This catches a mistake when the URL is typed; it is not the SSRF guard.
// A name may resolve to a private address later (or now): the outbound
// client checks every address it connects to, after DNS resolution, at
// delivery time.
func CheckURL(raw string, allowPrivate bool, public func(netip.Addr) bool) error {
	switch {
	case raw == "":
		return apperr.New(apperr.Invalid, "url is required")
	case len(raw) > MaxURLBytes:
		return apperr.New(apperr.Invalid, "url is longer than %d bytes", MaxURLBytes)
	case !utf8.ValidString(raw):
		return apperr.New(apperr.Invalid, "url is not valid UTF-8")
	case strings.IndexFunc(raw, unicode.IsControl) >= 0:
		return apperr.New(apperr.Invalid, "url holds a control character")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return apperr.New(apperr.Invalid, "url is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return apperr.New(apperr.Invalid, "url must use http or https")
	}
	if u.Host == "" || u.Hostname() == "" || u.Opaque != "" {
		return apperr.New(apperr.Invalid, "url must be absolute, with a host")
	}
	if u.User != nil {
		return apperr.New(apperr.Invalid, "url may not hold user information")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return apperr.New(apperr.Invalid, "url may not hold a fragment")
	}
	if allowPrivate {
		return nil
	}
	if u.Scheme != "https" {
		return apperr.New(apperr.Invalid, "url must use https (plain http only with WARD_OUTBOUND_ALLOW_PRIVATE=1)")
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return apperr.New(apperr.Invalid, "url may not name localhost (allowed only with WARD_OUTBOUND_ALLOW_PRIVATE=1)")
	}
	if public == nil {
		public = PublicFallback
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil && !public(a) {
		return apperr.New(apperr.Invalid, "url's address %s is not public (allowed only with WARD_OUTBOUND_ALLOW_PRIVATE=1)", a)
	}
	return nil
}

// CheckEvents returns events without duplicates, sorted, or an Invalid
// error naming the first problem: 1 to MaxEvents types, each registered in
// the audit registry.
func CheckEvents(events []string) ([]audit.EventType, error) {
	if len(events) == 0 {
		return nil, apperr.New(apperr.Invalid, "events: name at least one event type")
	}
	if len(events) > MaxEvents {
		return nil, apperr.New(apperr.Invalid, "events: at most %d event types", MaxEvents)
	}
	out := make([]audit.EventType, 0, len(events))
	for _, e := range events {
		t := audit.EventType(e)
		if !audit.Registered(t) {
			if len(e) > 64 || !utf8.ValidString(e) || strings.IndexFunc(e, unicode.IsControl) >= 0 {
				return nil, apperr.New(apperr.Invalid, "events: an unknown event type")
			}
			return nil, apperr.New(apperr.Invalid, "events: unknown event type %q", e)
		}
		out = append(out, t)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// CheckDescription refuses a description over MaxDescriptionBytes, or that
// is not valid UTF-8 or holds a NUL.
func CheckDescription(d string) error {
	switch {
	case len(d) > MaxDescriptionBytes:
		return apperr.New(apperr.Invalid, "description is longer than %d bytes", MaxDescriptionBytes)
	case !utf8.ValidString(d) || strings.ContainsRune(d, 0):
		return apperr.New(apperr.Invalid, "description is not valid text")
	}
	return nil
}

// PublicFallback is a coarse stand-in for outbound.Public when none is
// wired (tests of this package alone): it refuses what the standard
// library can name (loopback, private, link-local, unspecified,
// multicast, carrier-grade NAT). The server wires outbound.Public, which knows every special
// range.
func PublicFallback(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsValid() && a.IsGlobalUnicast() && !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast() &&
		!cgnat.Contains(a)
}

// cgnat is carrier-grade NAT space (RFC 6598): shared, never a public
// receiver.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")
