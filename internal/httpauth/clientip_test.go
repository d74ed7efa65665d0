package httpauth_test

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"ward/internal/httpauth"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxies: the peer", "192.0.2.7:5000", nil, nil, "192.0.2.7"},
		{"no proxies: the header is ignored", "192.0.2.7:5000", []string{"198.51.100.1"}, nil, "192.0.2.7"},
		{"untrusted peer: the header is ignored", "192.0.2.7:5000", []string{"198.51.100.1"}, trusted, "192.0.2.7"},
		{"trusted peer without a header: the peer", "10.0.0.1:5000", nil, trusted, "10.0.0.1"},
		{"trusted peer: the address it appended", "10.0.0.1:5000", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
		{"a spoofed left entry is ignored", "10.0.0.1:5000", []string{"1.2.3.4, 198.51.100.1"}, trusted, "198.51.100.1"},
		{"chain of trusted proxies: right-most untrusted", "10.0.0.1:5000", []string{"1.2.3.4, 198.51.100.1, 10.9.9.9"}, trusted, "198.51.100.1"},
		{"several header lines read in order", "10.0.0.1:5000", []string{"1.2.3.4", "198.51.100.1, 10.0.0.2"}, trusted, "198.51.100.1"},
		{"all trusted: the left-most", "10.0.0.1:5000", []string{"10.1.1.1, 10.2.2.2"}, trusted, "10.1.1.1"},
		{"garbage stops at the proxy that passed it", "10.0.0.1:5000", []string{"198.51.100.1, not-an-ip, 10.3.3.3"}, trusted, "10.3.3.3"},
		{"empty entry stops the walk", "10.0.0.1:5000", []string{","}, trusted, "10.0.0.1"},
		{"IPv6 peer and entries", "[2001:db8::1]:443", []string{"2001:db9::5, 2001:db8::2"}, trusted, "2001:db9::5"},
		{"IPv4-mapped IPv6 peer counts as IPv4", "[::ffff:10.0.0.1]:80", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
		{"zone is dropped", "[fe80::1%eth0]:80", nil, nil, "fe80::1"},
		{"bare address", "192.0.2.7", nil, nil, "192.0.2.7"},
		{"unreadable peer", "pipe", nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := httpauth.ClientIP(r, tt.trusted); got != tt.want {
				t.Fatalf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}
