package outbound

import (
	"fmt"
	"net/netip"
	"syscall"
)

// refused are the ranges an outbound fetch may not reach unless
// Policy.AllowPrivate: everything that is not ordinary public unicast
// (IANA's special-purpose registries, RFC 6890 and its updates). IPv4
// addresses mapped into IPv6 (::ffff:a.b.c.d) are unmapped before the
// check; 6to4 and NAT64 addresses are checked by the IPv4 address they
// embed (see embedded).
var refused = prefixes(
	// IPv4
	"0.0.0.0/8",       // "this network", unspecified
	"10.0.0.0/8",      // private (RFC 1918)
	"100.64.0.0/10",   // carrier-grade NAT (RFC 6598)
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local, with the cloud metadata address 169.254.169.254
	"172.16.0.0/12",   // private (RFC 1918)
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // documentation
	"192.88.99.0/24",  // 6to4 relay anycast (deprecated)
	"192.168.0.0/16",  // private (RFC 1918)
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // documentation
	"203.0.113.0/24",  // documentation
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, and the broadcast address
	// IPv6
	"::/96",          // unspecified, loopback, IPv4-compatible (deprecated)
	"64:ff9b:1::/48", // local-use NAT64 (RFC 8215)
	"100::/64",       // discard-only
	"2001::/23",      // IETF protocol assignments (Teredo among them)
	"2001:db8::/32",  // documentation
	"3fff::/20",      // documentation
	"5f00::/16",      // segment routing SIDs
	"fc00::/7",       // unique local (private)
	"fe80::/10",      // link-local
	"fec0::/10",      // site-local (deprecated)
	"ff00::/8",       // multicast
)

var (
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	sixTo = netip.MustParsePrefix("2002::/16")
)

func prefixes(ss ...string) []netip.Prefix {
	ps := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}

// Public reports whether a is an ordinary public unicast address, one an
// outbound fetch may reach with Policy.AllowPrivate off.
func Public(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	if v4, ok := embedded(a); ok {
		return Public(v4)
	}
	for _, p := range refused {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// embedded returns the IPv4 address a NAT64 (64:ff9b::/96) or 6to4
// (2002::/16) address stands for: the gateway would connect to it.
func embedded(a netip.Addr) (netip.Addr, bool) {
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixTo.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// RefusedAddressError is the dial-time refusal of an address that is not
// public (see Public).
type RefusedAddressError struct{ Addr netip.Addr }

func (e *RefusedAddressError) Error() string {
	return fmt.Sprintf("outbound: %s is not a public address (set WARD_OUTBOUND_ALLOW_PRIVATE=1 to allow it)", e.Addr)
}

// control is net.Dialer.Control: it runs for every address the dialer is
// about to connect to, after DNS resolution, so the check is on the very
// address connected to (a name that resolved to a public address when the
// URL was registered and to 127.0.0.1 now is refused now).
func control(p Policy) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if p.AllowPrivate {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("outbound: dial %s %q: not an IP address and port: %w", network, address, err)
		}
		if !Public(ap.Addr()) {
			return &RefusedAddressError{Addr: ap.Addr().Unmap()}
		}
		return nil
	}
}
