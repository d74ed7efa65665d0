package httpauth

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds how many X-Forwarded-For entries ClientIP reads,
// so a header stuffed with addresses costs nothing.
const maxForwardedHops = 32

// ClientIP returns the address a request came from, for per-address limits.
// It is the peer address, unless the peer is one of the trusted proxies:
// then X-Forwarded-For is read from the right (the entries the proxies
// appended) past every trusted address, and the first untrusted one is the
// client. Entries left of it were written by the client and are ignored, so
// a client cannot choose its own address. An entry that does not parse
// stops the walk at the proxy that passed it on. With no trusted proxies the
// header is never read. "" only when the peer address itself is unreadable.
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	peer, ok := parseHost(r.RemoteAddr)
	if !ok {
		return ""
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	hops := forwardedFor(r.Header.Values("X-Forwarded-For"))
	client := peer
	for i := len(hops) - 1; i >= 0 && i >= len(hops)-maxForwardedHops; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		client = a.Unmap()
		if !isTrusted(client, trusted) {
			break
		}
	}
	return client.String()
}

// forwardedFor splits X-Forwarded-For header lines into entries, in order.
func forwardedFor(lines []string) []string {
	var out []string
	for _, l := range lines {
		out = append(out, strings.Split(l, ",")...)
	}
	return out
}

// parseHost reads "host:port" (or a bare address) into an address.
func parseHost(s string) (netip.Addr, bool) {
	if h, _, err := net.SplitHostPort(s); err == nil {
		s = h
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
