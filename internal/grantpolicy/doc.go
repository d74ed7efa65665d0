// Package grantpolicy is the one rule that keeps power from growing by
// itself: nobody can create a principal, client, token, role grant or scope
// with more power than they hold.
//
// Decide is a pure function of who asks (Caller) and what they ask for
// (Request); it reads nothing and writes nothing, so every place that hands
// out power (the client registry, service accounts, role grants, the
// authorization server when a client is used, the CLI and the admin UI) asks
// it the same question and gets the same answer, and a table test covers
// role × request without a database.
//
// The rule, as issue 9 states it:
//
//   - Only an administrator (or ward itself: the CLI and ward's own steps)
//     registers clients with system/ scopes, the client_credentials grant or
//     any scope outside the developer set, creates service accounts, and
//     grants or revokes the admin, service and staff_admin roles.
//   - An application developer's clients carry only openid, fhirUser,
//     profile, email, launch, launch/…, offline_access, online_access,
//     patient/… and user/… scopes: at use these are bounded by the signed-in
//     person's own rights (the launch patient, check_role). They start
//     pending; an administrator approves them (pending → active). A
//     developer's change that widens the grants, scopes or redirect URIs of
//     an active client returns it to pending.
//   - A pending client serves its owner only: the owner can test the app
//     with their own sign-in, nobody else's data is reachable before approval.
//   - Below admin, a role is granted only by someone whose own roles cover
//     it (internal/directory's existing grant table, less the three roles
//     above).
//
// The package knows no HTTP, no SQL and no other ward domain package, so
// any of them may call it; role and grant names are the wire strings, which
// tests check against internal/directory and internal/client.
package grantpolicy
