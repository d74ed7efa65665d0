// Package outbound is ward's one way out: every request ward makes to a
// URL someone else chose (a client's jwks_uri today; webhook receivers,
// pushed tokens and connectors later) goes through a Client from here, so
// that a hostile or broken remote costs ward at most a few seconds and a
// few kilobytes and cannot turn ward into a probe of its own network.
//
// A Client
//
//   - bounds the whole exchange, body included, by a timeout (Limits.Timeout,
//     DefaultTimeout);
//   - caps the response body (Limits.MaxBytes, DefaultMaxBytes): reading
//     stops at the cap and the connection is dropped, so a remote that
//     streams gigabytes is refused after the cap, not after the gigabytes;
//   - follows no redirect: the registered URL is the one fetched, and a
//     redirect is an error, so checking the registered URL is enough;
//   - speaks https only, unless Policy.AllowPrivate is set (tests and closed
//     networks, where plain http to an internal host is the norm);
//   - checks the address it actually connects to, after DNS resolution, at
//     dial time (net.Dialer.Control): loopback, private, link-local (with
//     the cloud metadata address 169.254.169.254), CGNAT, unspecified,
//     multicast, reserved and documentation ranges, and IPv6 forms that
//     embed such an IPv4 address are refused unless Policy.AllowPrivate
//     (WARD_OUTBOUND_ALLOW_PRIVATE=1, the one switch for every outbound
//     fetch). Because the check is on the connected address, not on the
//     name, DNS rebinding cannot bypass it;
//   - ignores proxy settings in the environment: a proxy would connect on
//     ward's behalf, out of reach of the address check.
//
// Errors carry the detail (status, address, cause) for ward's log; callers
// answer their own callers with a generic message and never echo it, so the
// fetch is no oracle of what answered where.
package outbound
