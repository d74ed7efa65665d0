package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/oauth/tokens"
	"ward/internal/store"
)

// fullToken returns a token with every field set to a non-zero value and n
// mixed into every string. Data holds bytes that are not UTF-8, so a backend
// storing it as text is caught.
func fullToken(n int, kind tokens.Kind, clientID string, userID int64) *tokens.Token {
	return &tokens.Token{
		Signature:   fmt.Sprintf("sig-%d-%s-Zq8_x-Y", n, kind),
		Kind:        kind,
		RequestID:   fmt.Sprintf("req-%d", n),
		ClientID:    clientID,
		UserID:      userID,
		Scopes:      []string{"openid", "offline_access", fmt.Sprintf("patient/Observation.rs%d", n)},
		RequestedAt: micro(base.Add(time.Duration(n) * time.Minute)),
		ExpiresAt:   micro(base.Add(time.Hour + time.Duration(n)*time.Minute)),
		Active:      true,
		Service:     true,
		Format:      "jwt",
		Data:        append([]byte(fmt.Sprintf(`{"session":%d}`, n)), 0x00, 0xff, 0xfe),
		AlertedAt:   microPtr(base.Add(30*time.Minute + time.Duration(n)*time.Minute)),
		PatientID:   userID,
	}
}

// newTokenClient registers a client for tokens to belong to.
func newTokenClient(t *testing.T, b Backend, n int) string {
	t.Helper()
	c := fullClient(n, 0, "")
	must(t, b.Clients.CreateClient(t.Context(), c), "create client")
	return c.ID
}

// mkToken creates tok and returns it.
func mkToken(t *testing.T, b Backend, tok *tokens.Token) *tokens.Token {
	t.Helper()
	must(t, b.Tokens.CreateToken(t.Context(), tok), "create token "+tok.Signature)
	return tok
}

func getToken(t *testing.T, b Backend, tok *tokens.Token) *tokens.Token {
	t.Helper()
	got, err := b.Tokens.GetToken(t.Context(), tok.Kind, tok.Signature)
	must(t, err, "get token "+tok.Signature)
	return got
}

func wantActive(t *testing.T, b Backend, tok *tokens.Token, want bool) {
	t.Helper()
	if got := getToken(t, b, tok).Active; got != want {
		t.Fatalf("token %s active %v, want %v", tok.Signature, got, want)
	}
}

func tokenIDs(ts []*tokens.Token) []int64 {
	ids := make([]int64, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	return ids
}

func testTokenRoundTrip(t *testing.T, b Backend) {
	ctx := t.Context()
	cl := newTokenClient(t, b, 1)
	u := newUser(t, b, "patient@example.org")

	tok := fullToken(1, tokens.KindAccess, cl, u.ID)
	// Unrounded times in another zone go in; microseconds, UTC come back.
	tok.RequestedAt = base.In(time.FixedZone("X", -5*3600))
	tok.ExpiresAt = base.Add(time.Hour).In(time.FixedZone("Y", 3600))
	must(t, b.Tokens.CreateToken(ctx, tok), "create")
	if tok.ID == 0 {
		t.Fatal("CreateToken did not set ID")
	}
	want := fullToken(1, tokens.KindAccess, cl, u.ID)
	want.ID = tok.ID
	want.RequestedAt, want.ExpiresAt = micro(base), micro(base.Add(time.Hour))
	mustEqual(t, tok, want, "token after create")
	mustEqual(t, getToken(t, b, tok), want, "token read back")

	// The key is kind and signature together.
	_, err := b.Tokens.GetToken(ctx, tokens.KindRefresh, tok.Signature)
	wantKind(t, err, apperr.NotFound, "same signature, other kind")
	_, err = b.Tokens.GetToken(ctx, tokens.KindAccess, "no-such-signature")
	wantKind(t, err, apperr.NotFound, "unknown signature")
	wantKind(t, b.Tokens.CreateToken(ctx, fullToken(1, tokens.KindAccess, cl, u.ID)), apperr.Conflict,
		"duplicate kind and signature")
	twin := fullToken(1, tokens.KindAccess, cl, u.ID)
	twin.Kind = tokens.KindRefresh
	must(t, b.Tokens.CreateToken(ctx, twin), "same signature as another kind")
	if twin.ID == tok.ID {
		t.Fatal("two rows got one ID")
	}

	wantKind(t, b.Tokens.CreateToken(ctx, fullToken(2, tokens.KindAccess, "no-such-client", u.ID)),
		apperr.Invalid, "unknown client")
	wantKind(t, b.Tokens.CreateToken(ctx, fullToken(3, tokens.KindAccess, cl, 99999)),
		apperr.Invalid, "unknown user")
	wantKind(t, b.Tokens.CreateToken(ctx, fullToken(4, tokens.Kind("bearer"), cl, u.ID)),
		apperr.Invalid, "unknown kind")

	// Every kind is accepted; the optional fields may be empty.
	for i, k := range tokens.Kinds {
		bare := &tokens.Token{Signature: fmt.Sprintf("bare-%d", i), Kind: k, ClientID: cl,
			RequestedAt: micro(base), ExpiresAt: micro(base.Add(time.Minute))}
		must(t, b.Tokens.CreateToken(ctx, bare), "create bare "+string(k))
		mustEqual(t, getToken(t, b, bare), bare, "bare token read back")
	}

	// A failed transaction leaves no token behind.
	boom := errors.New("boom")
	rolled := fullToken(5, tokens.KindCode, cl, u.ID)
	err = b.Tx.InTx(ctx, func(ctx context.Context) error {
		must(t, b.Tokens.CreateToken(ctx, rolled), "create in transaction")
		if _, err := b.Tokens.GetToken(ctx, rolled.Kind, rolled.Signature); err != nil {
			t.Fatalf("token not visible inside its transaction: %v", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want the fn error", err)
	}
	_, err = b.Tokens.GetToken(ctx, rolled.Kind, rolled.Signature)
	wantKind(t, err, apperr.NotFound, "token of a rolled-back transaction")
}

func testTokenDeactivateAndDelete(t *testing.T, b Backend) {
	ctx := t.Context()
	cl := newTokenClient(t, b, 1)
	u := newUser(t, b, "p@example.org")
	code := mkToken(t, b, fullToken(1, tokens.KindCode, cl, u.ID))
	other := mkToken(t, b, fullToken(2, tokens.KindCode, cl, u.ID))

	ok, err := b.Tokens.DeactivateToken(ctx, code.Kind, code.Signature)
	must(t, err, "deactivate")
	if !ok {
		t.Fatal("first deactivate reported the token inactive")
	}
	ok, err = b.Tokens.DeactivateToken(ctx, code.Kind, code.Signature)
	must(t, err, "deactivate again")
	if ok {
		t.Fatal("second deactivate reported the token active")
	}
	// The row is kept, inactive, so that a replay is recognised.
	want := fullToken(1, tokens.KindCode, cl, u.ID)
	want.ID, want.Active = code.ID, false
	mustEqual(t, getToken(t, b, code), want, "deactivated token")
	wantActive(t, b, other, true)

	ok, err = b.Tokens.DeactivateToken(ctx, tokens.KindAccess, code.Signature)
	must(t, err, "deactivate other kind")
	if ok {
		t.Fatal("deactivating a missing row reported it active")
	}

	must(t, b.Tokens.DeleteToken(ctx, code.Kind, code.Signature), "delete")
	_, err = b.Tokens.GetToken(ctx, code.Kind, code.Signature)
	wantKind(t, err, apperr.NotFound, "deleted token")
	must(t, b.Tokens.DeleteToken(ctx, code.Kind, code.Signature), "delete a missing row")
	wantActive(t, b, other, true)
}

// testTokenDeactivateRace redeems one code from many goroutines, each in its
// own transaction that issues a token when it wins, as the token endpoint
// does: exactly one may win and exactly one token may be issued.
func testTokenDeactivateRace(t *testing.T, b Backend) {
	ctx := t.Context()
	cl := newTokenClient(t, b, 1)
	u := newUser(t, b, "p@example.org")
	code := mkToken(t, b, fullToken(1, tokens.KindCode, cl, u.ID))

	const n = 8
	var wg sync.WaitGroup
	won := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = b.Tx.InTx(ctx, func(ctx context.Context) error {
				ok, err := b.Tokens.DeactivateToken(ctx, code.Kind, code.Signature)
				if err != nil || !ok {
					return err
				}
				won[i] = true
				return b.Tokens.CreateToken(ctx, fullToken(100+i, tokens.KindAccess, cl, u.ID))
			})
		})
	}
	wg.Wait()
	wins := 0
	for i := range n {
		must(t, errs[i], fmt.Sprintf("redeem #%d", i))
		if won[i] {
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d racing redemptions won, want exactly 1", wins, n)
	}
	issued, _, err := b.Tokens.ListTokens(ctx, tokens.Filter{Kinds: []tokens.Kind{tokens.KindAccess}}, store.Page{})
	must(t, err, "list issued")
	if len(issued) != 1 {
		t.Fatalf("%d access tokens issued, want 1", len(issued))
	}
	wantActive(t, b, code, false)
}

func testTokenDeactivateRequest(t *testing.T, b Backend) {
	ctx := t.Context()
	cl := newTokenClient(t, b, 1)
	u := newUser(t, b, "p@example.org")
	var family []*tokens.Token
	for _, k := range []tokens.Kind{tokens.KindCode, tokens.KindAccess, tokens.KindRefresh, tokens.KindPKCE, tokens.KindOIDC} {
		family = append(family, mkToken(t, b, fullToken(1, k, cl, u.ID)))
	}
	stranger := mkToken(t, b, fullToken(2, tokens.KindAccess, cl, u.ID))
	code, access, refresh, pkce := family[0], family[1], family[2], family[3]

	n, err := b.Tokens.DeactivateRequest(ctx, code.RequestID, tokens.KindAccess, tokens.KindRefresh)
	must(t, err, "deactivate access and refresh")
	mustEqual(t, n, 2, "rows deactivated by kinds")
	wantActive(t, b, access, false)
	wantActive(t, b, refresh, false)
	wantActive(t, b, code, true)
	wantActive(t, b, pkce, true)

	// Rows already inactive are not counted again.
	n, err = b.Tokens.DeactivateRequest(ctx, code.RequestID, tokens.KindAccess, tokens.KindRefresh)
	must(t, err, "deactivate again")
	mustEqual(t, n, 0, "rows deactivated the second time")

	n, err = b.Tokens.DeactivateRequest(ctx, code.RequestID)
	must(t, err, "deactivate every kind")
	mustEqual(t, n, 3, "rows deactivated with no kinds given")
	for _, tok := range family {
		wantActive(t, b, tok, false)
	}
	wantActive(t, b, stranger, true)

	n, err = b.Tokens.DeactivateRequest(ctx, "no-such-request")
	must(t, err, "deactivate unknown request")
	mustEqual(t, n, 0, "rows of an unknown request")
}

func testTokenDeactivateClientUser(t *testing.T, b Backend) {
	ctx := t.Context()
	clA := newTokenClient(t, b, 1)
	clB := newTokenClient(t, b, 2)
	u := newUser(t, b, "u@example.org")
	v := newUser(t, b, "v@example.org")

	access := mkToken(t, b, fullToken(1, tokens.KindAccess, clA, u.ID))
	refresh := mkToken(t, b, fullToken(1, tokens.KindRefresh, clA, u.ID))
	code := mkToken(t, b, fullToken(1, tokens.KindCode, clA, u.ID))
	otherUser := mkToken(t, b, fullToken(2, tokens.KindAccess, clA, v.ID))
	otherClient := mkToken(t, b, fullToken(3, tokens.KindAccess, clB, u.ID))
	clientOnly := mkToken(t, b, fullToken(4, tokens.KindAccess, clA, 0))

	n, err := b.Tokens.DeactivateClientUser(ctx, clA, u.ID)
	must(t, err, "deactivate client user")
	mustEqual(t, n, 2, "access and refresh tokens deactivated")
	wantActive(t, b, access, false)
	wantActive(t, b, refresh, false)
	wantActive(t, b, code, true)
	wantActive(t, b, otherUser, true)
	wantActive(t, b, otherClient, true)
	wantActive(t, b, clientOnly, true)

	n, err = b.Tokens.DeactivateClientUser(ctx, clA, u.ID)
	must(t, err, "deactivate client user again")
	mustEqual(t, n, 0, "tokens deactivated the second time")

	// User 0 is the client's own (client-credentials) tokens, not everyone's.
	n, err = b.Tokens.DeactivateClientUser(ctx, clA, 0)
	must(t, err, "deactivate client-only tokens")
	mustEqual(t, n, 1, "client-only tokens deactivated")
	wantActive(t, b, clientOnly, false)
	wantActive(t, b, otherUser, true)
}

// testTokenRevokeHolders covers what the directory and the client registry
// revoke in their own transactions, and GetToken's UserDeleted.
func testTokenRevokeHolders(t *testing.T, b Backend) {
	ctx := t.Context()
	clA := newTokenClient(t, b, 1)
	clB := newTokenClient(t, b, 2)
	pat := newUser(t, b, "pat@example.org")
	staff := newUser(t, b, "staff@example.org")

	own := []*tokens.Token{
		mkToken(t, b, fullToken(1, tokens.KindAccess, clA, pat.ID)),
		mkToken(t, b, fullToken(1, tokens.KindRefresh, clA, pat.ID)),
		mkToken(t, b, fullToken(1, tokens.KindCode, clA, pat.ID)),
	}
	ownPKCE := mkToken(t, b, fullToken(1, tokens.KindPKCE, clA, pat.ID))
	launch := fullToken(2, tokens.KindAccess, clB, staff.ID)
	launch.PatientID = pat.ID
	mkToken(t, b, launch)
	staffOwn := mkToken(t, b, fullToken(3, tokens.KindRefresh, clB, staff.ID))
	clientOnly := mkToken(t, b, fullToken(4, tokens.KindAccess, clA, 0))
	mustEqual(t, getToken(t, b, launch).PatientID, pat.ID, "launch patient read back")

	// UserDeleted follows the person's row, both ways; a client-only
	// token has no person and is never UserDeleted.
	at := micro(base)
	must(t, b.Directory.SetUserDeleted(ctx, pat.ID, &at), "delete patient")
	mustEqual(t, getToken(t, b, own[0]).UserDeleted, true, "token of a deleted person")
	mustEqual(t, getToken(t, b, launch).UserDeleted, false, "staff token on a deleted patient")
	mustEqual(t, getToken(t, b, clientOnly).UserDeleted, false, "client-only token")
	listed, _, err := b.Tokens.ListTokens(ctx, tokens.Filter{ClientID: clA}, store.Page{Limit: 10})
	must(t, err, "list tokens")
	for _, l := range listed {
		mustEqual(t, l.UserDeleted, l.UserID == pat.ID, "listed token of user "+fmt.Sprint(l.UserID)+" deleted")
	}
	must(t, b.Directory.SetUserDeleted(ctx, pat.ID, nil), "reactivate patient")
	mustEqual(t, getToken(t, b, own[0]).UserDeleted, false, "token of a reactivated person")

	// Launches on the patient held by others go; the patient's own stay.
	n, err := b.Tokens.RevokePatientLaunchTokens(ctx, pat.ID)
	must(t, err, "revoke launch tokens")
	mustEqual(t, n, 1, "launch tokens revoked")
	wantActive(t, b, launch, false)
	wantActive(t, b, staffOwn, true)
	for _, tok := range own {
		wantActive(t, b, tok, true)
	}

	// A person's codes, access and refresh tokens, with every client.
	n, err = b.Tokens.RevokeUserTokens(ctx, pat.ID)
	must(t, err, "revoke user tokens")
	mustEqual(t, n, 3, "user tokens revoked")
	for _, tok := range own {
		wantActive(t, b, tok, false)
	}
	wantActive(t, b, ownPKCE, true)
	wantActive(t, b, staffOwn, true)
	n, err = b.Tokens.RevokeUserTokens(ctx, pat.ID)
	must(t, err, "revoke user tokens again")
	mustEqual(t, n, 0, "user tokens revoked the second time")

	// A client's tokens of every person and its own.
	n, err = b.Tokens.RevokeClientTokens(ctx, clA)
	must(t, err, "revoke client tokens")
	mustEqual(t, n, 1, "client tokens revoked (the client-only one was the last live)")
	wantActive(t, b, clientOnly, false)
	wantActive(t, b, staffOwn, true)
	n, err = b.Tokens.RevokeClientTokens(ctx, clB)
	must(t, err, "revoke other client's tokens")
	mustEqual(t, n, 1, "other client's tokens revoked")
	wantActive(t, b, staffOwn, false)

	// Revocation joins the caller's transaction: a rollback keeps the token.
	fresh := mkToken(t, b, fullToken(5, tokens.KindAccess, clA, staff.ID))
	boom := errors.New("boom")
	err = b.Tx.InTx(ctx, func(ctx context.Context) error {
		if _, err := b.Tokens.RevokeUserTokens(ctx, staff.ID); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("transaction error %v, want boom", err)
	}
	wantActive(t, b, fresh, true)
}

func testTokenDeactivateByID(t *testing.T, b Backend) {
	ctx := t.Context()
	cl := newTokenClient(t, b, 1)
	u := newUser(t, b, "p@example.org")
	access := mkToken(t, b, fullToken(1, tokens.KindAccess, cl, u.ID))
	refresh := mkToken(t, b, fullToken(1, tokens.KindRefresh, cl, u.ID))
	stranger := mkToken(t, b, fullToken(2, tokens.KindAccess, cl, u.ID))

	got, err := b.Tokens.DeactivateByID(ctx, access.ID)
	must(t, err, "deactivate by id")
	mustEqual(t, got, access, "row as it was before")
	wantActive(t, b, access, false)
	wantActive(t, b, refresh, false)
	wantActive(t, b, stranger, true)

	// Again: the row is returned as it now is, inactive.
	got, err = b.Tokens.DeactivateByID(ctx, access.ID)
	must(t, err, "deactivate by id again")
	if got.Active {
		t.Fatal("second DeactivateByID returned an active row")
	}

	_, err = b.Tokens.DeactivateByID(ctx, 99999)
	wantKind(t, err, apperr.NotFound, "deactivate unknown id")

	// Tokens without a request id (service tokens) are no family.
	svc1 := fullToken(3, tokens.KindAccess, cl, u.ID)
	svc2 := fullToken(4, tokens.KindAccess, cl, u.ID)
	svc1.RequestID, svc2.RequestID = "", ""
	mkToken(t, b, svc1)
	mkToken(t, b, svc2)
	_, err = b.Tokens.DeactivateByID(ctx, svc1.ID)
	must(t, err, "deactivate service token")
	wantActive(t, b, svc1, false)
	wantActive(t, b, svc2, true)
}

func testTokenList(t *testing.T, b Backend) {
	ctx := t.Context()
	clA := newTokenClient(t, b, 1)
	clB := newTokenClient(t, b, 2)
	u := newUser(t, b, "u@example.org")
	v := newUser(t, b, "v@example.org")

	all := []*tokens.Token{
		mkToken(t, b, fullToken(1, tokens.KindAccess, clA, u.ID)),
		mkToken(t, b, fullToken(1, tokens.KindRefresh, clA, u.ID)),
		mkToken(t, b, fullToken(2, tokens.KindCode, clA, v.ID)),
		mkToken(t, b, fullToken(3, tokens.KindAccess, clB, u.ID)),
		mkToken(t, b, fullToken(4, tokens.KindAccess, clA, 0)),
		mkToken(t, b, fullToken(5, tokens.KindRefresh, clB, v.ID)),
		mkToken(t, b, fullToken(6, tokens.KindAccess, clA, u.ID)),
	}
	// One inactive, one expired at the LiveAt used below.
	_, err := b.Tokens.DeactivateToken(ctx, tokens.KindAccess, all[3].Signature)
	must(t, err, "deactivate")
	all[3].Active = false
	expired := fullToken(7, tokens.KindAccess, clA, u.ID)
	expired.ExpiresAt = micro(base.Add(time.Minute))
	all = append(all, mkToken(t, b, expired))

	newestFirst := slices.Clone(all)
	slices.Reverse(newestFirst)

	// Paging newest first.
	var paged []*tokens.Token
	after := ""
	for pages := 0; ; pages++ {
		if pages > len(all) {
			t.Fatal("paging does not end")
		}
		ts, next, err := b.Tokens.ListTokens(ctx, tokens.Filter{}, store.Page{Limit: 3, After: after})
		must(t, err, "list page")
		if len(ts) > 3 {
			t.Fatalf("page of %d, want at most 3", len(ts))
		}
		paged = append(paged, ts...)
		if next == "" {
			break
		}
		after = next
	}
	mustEqual(t, paged, newestFirst, "every token, newest first, full rows")

	sel := func(keep func(*tokens.Token) bool) []int64 {
		var ids []int64
		for _, tok := range newestFirst {
			if keep(tok) {
				ids = append(ids, tok.ID)
			}
		}
		return ids
	}
	liveAt := base.Add(30 * time.Minute)
	for _, c := range []struct {
		name string
		f    tokens.Filter
		keep func(*tokens.Token) bool
	}{
		{"client", tokens.Filter{ClientID: clB}, func(x *tokens.Token) bool { return x.ClientID == clB }},
		{"user", tokens.Filter{UserID: v.ID}, func(x *tokens.Token) bool { return x.UserID == v.ID }},
		{"kinds", tokens.Filter{Kinds: []tokens.Kind{tokens.KindRefresh, tokens.KindCode}},
			func(x *tokens.Token) bool { return x.Kind == tokens.KindRefresh || x.Kind == tokens.KindCode }},
		{"live", tokens.Filter{LiveAt: liveAt},
			func(x *tokens.Token) bool { return x.Active && x.ExpiresAt.After(liveAt) }},
		{"client, user, kind and live", tokens.Filter{ClientID: clA, UserID: u.ID,
			Kinds: []tokens.Kind{tokens.KindAccess}, LiveAt: liveAt},
			func(x *tokens.Token) bool {
				return x.ClientID == clA && x.UserID == u.ID && x.Kind == tokens.KindAccess &&
					x.Active && x.ExpiresAt.After(liveAt)
			}},
	} {
		ts, next, err := b.Tokens.ListTokens(ctx, c.f, store.Page{})
		must(t, err, "list by "+c.name)
		want := sel(c.keep)
		if len(want) == 0 {
			t.Fatalf("fixture selects nothing for %s", c.name)
		}
		mustEqual(t, tokenIDs(ts), want, "tokens by "+c.name)
		if next != "" {
			t.Fatalf("next cursor %q on the only page (%s)", next, c.name)
		}
	}

	// A filtered listing pages too, resuming below the cursor.
	f := tokens.Filter{ClientID: clA}
	first, next, err := b.Tokens.ListTokens(ctx, f, store.Page{Limit: 2})
	must(t, err, "first filtered page")
	rest, last, err := b.Tokens.ListTokens(ctx, f, store.Page{Limit: 100, After: next})
	must(t, err, "rest of filtered pages")
	if next == "" || last != "" {
		t.Fatalf("cursors %q then %q, want one then none", next, last)
	}
	mustEqual(t, append(tokenIDs(first), tokenIDs(rest)...),
		sel(func(x *tokens.Token) bool { return x.ClientID == clA }), "filtered pages")

	_, _, err = b.Tokens.ListTokens(ctx, tokens.Filter{}, store.Page{After: "not a cursor!"})
	wantKind(t, err, apperr.Invalid, "malformed cursor")
}

func testTokenClientUsers(t *testing.T, b Backend) {
	ctx := t.Context()
	cl := newTokenClient(t, b, 1)
	other := newTokenClient(t, b, 2)
	now := base.Add(30 * time.Minute)
	var users []int64
	for i := range 7 {
		users = append(users, newUser(t, b, fmt.Sprintf("u%d@example.org", i)).ID)
	}
	u0, u1, u2, u3, u4, u5, u6 := users[0], users[1], users[2], users[3], users[4], users[5], users[6]
	consent := func(user int64, client string, at time.Time, scopes ...string) *tokens.Consent {
		c := &tokens.Consent{UserID: user, ClientID: client, Scopes: scopes, GrantedAt: micro(at)}
		must(t, b.Tokens.SaveConsent(ctx, c), "save consent")
		return c
	}
	tok := func(n int, kind tokens.Kind, client string, user int64) *tokens.Token {
		return mkToken(t, b, fullToken(n, kind, client, user))
	}

	// u0: a live access token, and two live consents (the newer is shown).
	tok(1, tokens.KindAccess, cl, u0)
	consent(u0, cl, base, "openid")
	u0Consent := consent(u0, cl, base.Add(time.Minute), "launch", "openid")
	// u1: a live consent only.
	u1Consent := consent(u1, cl, base, "openid")
	// u2: an expired token only: left out.
	expired := fullToken(2, tokens.KindAccess, cl, u2)
	expired.ExpiresAt = micro(base.Add(time.Minute))
	mkToken(t, b, expired)
	// u3: a revoked token only: left out.
	revoked := tok(3, tokens.KindRefresh, cl, u3)
	_, err := b.Tokens.DeactivateToken(ctx, revoked.Kind, revoked.Signature)
	must(t, err, "revoke")
	// u4: a withdrawn consent and a live code (codes are not tokens here): left out.
	consent(u4, cl, base, "openid")
	_, err = b.Tokens.WithdrawConsents(ctx, u4, cl, base.Add(time.Minute))
	must(t, err, "withdraw")
	tok(4, tokens.KindCode, cl, u4)
	// u5: live access and refresh tokens, plus a lapsed one issued later.
	tok(5, tokens.KindAccess, cl, u5)
	tok(5, tokens.KindRefresh, cl, u5)
	lapsed := fullToken(9, tokens.KindAccess, cl, u5)
	lapsed.ExpiresAt = micro(base.Add(10 * time.Minute))
	mkToken(t, b, lapsed)
	// u6: only with the other client.
	tok(6, tokens.KindAccess, other, u6)
	consent(u6, other, base, "openid")
	// A client-only token has no user to list.
	tok(7, tokens.KindAccess, cl, 0)

	got, err := b.Tokens.ClientUsers(ctx, cl, now)
	must(t, err, "client users")
	want := []tokens.ClientUser{
		{UserID: u0, Consent: u0Consent, LiveTokens: 1, LastIssued: fullToken(1, "", "", 0).RequestedAt},
		{UserID: u1, Consent: u1Consent},
		{UserID: u5, LiveTokens: 2, LastIssued: fullToken(9, "", "", 0).RequestedAt},
	}
	mustEqual(t, got, want, "client users")

	got, err = b.Tokens.ClientUsers(ctx, "no-such-client", now)
	must(t, err, "users of an unknown client")
	if len(got) != 0 {
		t.Fatalf("users of an unknown client: %+v", got)
	}
}

func testTokenDeleteExpired(t *testing.T, b Backend) {
	ctx := t.Context()
	cl := newTokenClient(t, b, 1)
	u := newUser(t, b, "p@example.org")
	cut := base.Add(time.Hour)
	var expired, live []*tokens.Token
	for i := range 5 {
		tok := fullToken(i, tokens.Kinds[i%len(tokens.Kinds)], cl, u.ID)
		tok.ExpiresAt = micro(cut.Add(-time.Duration(i+1) * time.Second))
		if i%2 == 0 {
			tok.Active = false // inactive or not, expired rows go
		}
		expired = append(expired, mkToken(t, b, tok))
	}
	for i := range 2 {
		tok := fullToken(10+i, tokens.KindAccess, cl, u.ID)
		tok.ExpiresAt = micro(cut.Add(time.Duration(i) * time.Second)) // the first expires exactly at cut
		live = append(live, mkToken(t, b, tok))
	}

	var counts []int
	for range 4 {
		n, err := b.Tokens.DeleteExpiredTokens(ctx, cut, 2)
		must(t, err, "delete expired")
		counts = append(counts, n)
	}
	mustEqual(t, counts, []int{2, 2, 1, 0}, "rows deleted per call with limit 2")
	for _, tok := range expired {
		_, err := b.Tokens.GetToken(ctx, tok.Kind, tok.Signature)
		wantKind(t, err, apperr.NotFound, "expired token after the janitor")
	}
	for _, tok := range live {
		mustEqual(t, getToken(t, b, tok), tok, "live token after the janitor")
	}
	_, err := b.Tokens.DeleteExpiredTokens(ctx, cut, 0)
	wantKind(t, err, apperr.Invalid, "limit 0")
}

func testServiceTokensExpiring(t *testing.T, b Backend) {
	ctx := t.Context()
	cl := newTokenClient(t, b, 1)
	u := newUser(t, b, "svc@example.org")
	at := func(n int, h time.Duration, service, active, alerted bool) *tokens.Token {
		tok := fullToken(n, tokens.KindAccess, cl, u.ID)
		tok.ExpiresAt = micro(base.Add(h * time.Hour))
		tok.Service, tok.Active = service, active
		if !alerted {
			tok.AlertedAt = nil
		}
		return mkToken(t, b, tok)
	}
	// Created out of order, to check the sort.
	at(1, 3, true, true, false) // at the window's end: out
	two := at(2, 2, true, true, false)
	one := at(3, 1, true, true, false) // at the window's start: in
	at(4, 2, false, true, false)       // not a service token
	at(5, 2, true, false, false)       // revoked
	at(6, 5, true, true, false)        // later
	at(7, 0, true, true, false)        // earlier
	told := at(8, 2, true, true, true) // its sponsor was alerted already

	window := tokens.Expiring{From: base.Add(time.Hour), To: base.Add(3 * time.Hour)}
	got, err := b.Tokens.ServiceTokensExpiring(ctx, window)
	must(t, err, "service tokens expiring")
	mustEqual(t, got, []*tokens.Token{one, two, told}, "service tokens in [from, to), soonest first")

	window.Unalerted = true
	got, err = b.Tokens.ServiceTokensExpiring(ctx, window)
	must(t, err, "unalerted service tokens expiring")
	mustEqual(t, got, []*tokens.Token{one, two}, "service tokens not yet alerted")

	got, err = b.Tokens.ServiceTokensExpiring(ctx, tokens.Expiring{From: base.Add(6 * time.Hour), To: base.Add(7 * time.Hour)})
	must(t, err, "empty window")
	if len(got) != 0 {
		t.Fatalf("tokens in an empty window: %+v", got)
	}
}

func testMarkServiceTokenAlerted(t *testing.T, b Backend) {
	ctx := t.Context()
	cl := newTokenClient(t, b, 1)
	u := newUser(t, b, "svc@example.org")
	tok := fullToken(1, tokens.KindAccess, cl, u.ID)
	tok.AlertedAt = nil
	mkToken(t, b, tok)
	other := fullToken(2, tokens.KindAccess, cl, u.ID)
	other.AlertedAt = nil
	mkToken(t, b, other)

	at := base.Add(time.Hour).In(time.FixedZone("X", 3600))
	ok, err := b.Tokens.MarkServiceTokenAlerted(ctx, tok.ID, at)
	must(t, err, "mark")
	if !ok {
		t.Fatal("first mark reported false")
	}
	want := *tok
	want.AlertedAt = microPtr(at)
	mustEqual(t, getToken(t, b, tok), &want, "token after mark: microseconds, UTC")

	// A second mark changes nothing and says so.
	ok, err = b.Tokens.MarkServiceTokenAlerted(ctx, tok.ID, at.Add(time.Hour))
	must(t, err, "mark again")
	if ok {
		t.Fatal("second mark reported true")
	}
	mustEqual(t, getToken(t, b, tok), &want, "token after a second mark")
	mustEqual(t, getToken(t, b, other), other, "another token")

	ok, err = b.Tokens.MarkServiceTokenAlerted(ctx, 999999, at)
	must(t, err, "mark an unknown id")
	if ok {
		t.Fatal("marking an unknown id reported true")
	}

	// A rolled-back mark leaves the token unalerted.
	boom := errors.New("boom")
	err = b.Tx.InTx(ctx, func(ctx context.Context) error {
		ok, err := b.Tokens.MarkServiceTokenAlerted(ctx, other.ID, at)
		must(t, err, "mark in a transaction")
		if !ok {
			t.Fatal("mark in a transaction reported false")
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want the fn error", err)
	}
	mustEqual(t, getToken(t, b, other), other, "token after a rolled-back mark")
}

func testMarkServiceTokenAlertedRace(t *testing.T, b Backend) {
	cl := newTokenClient(t, b, 1)
	u := newUser(t, b, "svc@example.org")
	tok := fullToken(1, tokens.KindAccess, cl, u.ID)
	tok.AlertedAt = nil
	mkToken(t, b, tok)
	const n = 8
	var wg sync.WaitGroup
	wins := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			wins[i], errs[i] = b.Tokens.MarkServiceTokenAlerted(t.Context(), tok.ID, base.Add(time.Duration(i)*time.Second))
		})
	}
	wg.Wait()
	won := 0
	for i := range n {
		must(t, errs[i], fmt.Sprintf("mark #%d", i))
		if wins[i] {
			won++
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d racing marks won, want 1", won, n)
	}
}

func testJTI(t *testing.T, b Backend) {
	ctx := t.Context()
	now := base
	exp := base.Add(5 * time.Minute)

	known, err := b.Tokens.JTIKnown(ctx, "j1", now)
	must(t, err, "known before use")
	if known {
		t.Fatal("unused jti is known")
	}
	must(t, b.Tokens.UseJTI(ctx, "j1", exp, now), "use")
	known, err = b.Tokens.JTIKnown(ctx, "j1", now.Add(time.Minute))
	must(t, err, "known after use")
	if !known {
		t.Fatal("used jti is not known")
	}
	wantKind(t, b.Tokens.UseJTI(ctx, "j1", exp.Add(time.Hour), now.Add(time.Minute)), apperr.Conflict, "replayed jti")
	must(t, b.Tokens.UseJTI(ctx, "j2", exp, now), "another jti")

	// At exp the jti has expired: it is unknown and may be used again.
	known, err = b.Tokens.JTIKnown(ctx, "j1", exp)
	must(t, err, "known at exp")
	if known {
		t.Fatal("jti known at its expiry")
	}
	later := exp.Add(10 * time.Minute)
	must(t, b.Tokens.UseJTI(ctx, "j1", later, exp), "reuse an expired jti")
	known, err = b.Tokens.JTIKnown(ctx, "j1", exp.Add(time.Minute))
	must(t, err, "known after reuse")
	if !known {
		t.Fatal("reused jti is not known until its new expiry")
	}
	// j2 expired too: it may be used again.
	must(t, b.Tokens.UseJTI(ctx, "j2", later, exp), "reuse j2")

	// A replay inside a transaction is Conflict and leaves the transaction
	// usable, so the caller decides what to commit.
	err = b.Tx.InTx(ctx, func(ctx context.Context) error {
		wantKind(t, b.Tokens.UseJTI(ctx, "j1", later, exp), apperr.Conflict, "replay in a transaction")
		return b.Tokens.UseJTI(ctx, "j3", later, exp)
	})
	must(t, err, "transaction after a replay")
	known, err = b.Tokens.JTIKnown(ctx, "j3", exp)
	must(t, err, "known j3")
	if !known {
		t.Fatal("jti recorded after a replay in the same transaction is lost")
	}
}

func testJTIConcurrent(t *testing.T, b Backend) {
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = b.Tokens.UseJTI(t.Context(), "same-jti", base.Add(time.Minute), base)
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case apperr.KindOf(err) != apperr.Conflict:
			t.Fatalf("use #%d: %v, want nil or Conflict", i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent uses of one jti succeeded, want 1", ok, n)
	}
}

func testTokenConsents(t *testing.T, b Backend) {
	ctx := t.Context()
	cl := newTokenClient(t, b, 1)
	other := newTokenClient(t, b, 2)
	u := newUser(t, b, "u@example.org")
	v := newUser(t, b, "v@example.org")

	c1 := &tokens.Consent{UserID: u.ID, ClientID: cl, Scopes: []string{"openid", "launch", "openid"},
		GrantedAt: base.In(time.FixedZone("X", 7200))}
	must(t, b.Tokens.SaveConsent(ctx, c1), "save")
	if c1.ID == 0 {
		t.Fatal("SaveConsent did not set ID")
	}
	want1 := &tokens.Consent{ID: c1.ID, UserID: u.ID, ClientID: cl, Scopes: []string{"launch", "openid"},
		GrantedAt: micro(base)}
	mustEqual(t, c1, want1, "consent after save: sorted, duplicate-free, microseconds UTC")

	c2 := &tokens.Consent{UserID: u.ID, ClientID: cl, Scopes: []string{"patient/*.rs", "openid"},
		GrantedAt: micro(base.Add(time.Hour))}
	must(t, b.Tokens.SaveConsent(ctx, c2), "save second")
	c3 := &tokens.Consent{UserID: u.ID, ClientID: other, Scopes: []string{"openid", "offline_access"},
		GrantedAt: micro(base.Add(2 * time.Hour))}
	must(t, b.Tokens.SaveConsent(ctx, c3), "save for another client")
	// Saved already withdrawn: history, never found.
	old := &tokens.Consent{UserID: u.ID, ClientID: cl, Scopes: []string{"launch", "openid", "patient/*.rs"},
		GrantedAt: micro(base.Add(3 * time.Hour)), WithdrawnAt: microPtr(base.Add(4 * time.Hour))}
	must(t, b.Tokens.SaveConsent(ctx, old), "save withdrawn")

	wantKind(t, b.Tokens.SaveConsent(ctx, &tokens.Consent{UserID: u.ID, ClientID: "no-such-client",
		GrantedAt: base}), apperr.Invalid, "consent for an unknown client")
	wantKind(t, b.Tokens.SaveConsent(ctx, &tokens.Consent{UserID: 99999, ClientID: cl,
		GrantedAt: base}), apperr.Invalid, "consent of an unknown user")

	find := func(scopes ...string) (*tokens.Consent, error) {
		return b.Tokens.FindConsent(ctx, u.ID, cl, scopes)
	}
	got, err := find("openid")
	must(t, err, "find openid")
	mustEqual(t, got, c2, "newest consent covering openid")
	got, err = find("launch", "openid")
	must(t, err, "find launch openid")
	mustEqual(t, got, want1, "consent covering launch and openid")
	got, err = find()
	must(t, err, "find with no scopes")
	mustEqual(t, got, c2, "newest live consent for no scopes")
	_, err = find("launch", "patient/*.rs")
	wantKind(t, err, apperr.NotFound, "scopes no single live consent covers")
	_, err = find("offline_access")
	wantKind(t, err, apperr.NotFound, "scope granted only to another client")
	_, err = b.Tokens.FindConsent(ctx, v.ID, cl, []string{"openid"})
	wantKind(t, err, apperr.NotFound, "another user")

	n, err := b.Tokens.WithdrawConsents(ctx, u.ID, cl, base.Add(5*time.Hour))
	must(t, err, "withdraw")
	mustEqual(t, n, 2, "consents withdrawn")
	n, err = b.Tokens.WithdrawConsents(ctx, u.ID, cl, base.Add(6*time.Hour))
	must(t, err, "withdraw again")
	mustEqual(t, n, 0, "consents withdrawn the second time")
	_, err = find("openid")
	wantKind(t, err, apperr.NotFound, "withdrawn consent")
	got, err = b.Tokens.FindConsent(ctx, u.ID, other, []string{"openid"})
	must(t, err, "other client's consent stays")
	mustEqual(t, got, c3, "other client's consent")

	list, err := b.Tokens.ListConsents(ctx, u.ID)
	must(t, err, "list")
	w1, w2 := *want1, *c2
	w1.WithdrawnAt, w2.WithdrawnAt = microPtr(base.Add(5*time.Hour)), microPtr(base.Add(5*time.Hour))
	mustEqual(t, list, []*tokens.Consent{old, c3, &w2, &w1}, "consents newest first, withdrawn included")
	list, err = b.Tokens.ListConsents(ctx, v.ID)
	must(t, err, "list none")
	if len(list) != 0 {
		t.Fatalf("consents of a user with none: %+v", list)
	}
}

// testTokensPurgedUser checks that purging a person takes their tokens and
// consents with them, and nobody else's.
func testTokensPurgedUser(t *testing.T, b Backend) {
	ctx := t.Context()
	cl := newTokenClient(t, b, 1)
	gone := newUser(t, b, "gone@example.org")
	stays := newUser(t, b, "stays@example.org")
	goneTok := mkToken(t, b, fullToken(1, tokens.KindRefresh, cl, gone.ID))
	staysTok := mkToken(t, b, fullToken(2, tokens.KindRefresh, cl, stays.ID))
	for _, id := range []int64{gone.ID, stays.ID} {
		must(t, b.Tokens.SaveConsent(ctx, &tokens.Consent{UserID: id, ClientID: cl,
			Scopes: []string{"openid"}, GrantedAt: base}), "consent")
	}

	must(t, b.Directory.PurgeUser(ctx, gone.ID), "purge")
	_, err := b.Tokens.GetToken(ctx, goneTok.Kind, goneTok.Signature)
	wantKind(t, err, apperr.NotFound, "purged user's token")
	list, err := b.Tokens.ListConsents(ctx, gone.ID)
	must(t, err, "purged user's consents")
	if len(list) != 0 {
		t.Fatalf("purged user still has consents: %+v", list)
	}
	mustEqual(t, getToken(t, b, staysTok), staysTok, "other user's token")
	_, err = b.Tokens.FindConsent(ctx, stays.ID, cl, []string{"openid"})
	must(t, err, "other user's consent")
}

func testCreateTokens(t *testing.T, b Backend) {
	ctx := t.Context()
	c := newTokenClient(t, b, 1)
	u := newUser(t, b, "bulk@example.org", "patient")
	var batch []*tokens.Token
	for i := range 150 { // more than one INSERT's worth
		batch = append(batch, fullToken(1000+i, tokens.KindAccess, c, u.ID))
	}
	must(t, b.Tokens.CreateTokens(ctx, batch), "create 150 tokens")
	seen := map[int64]bool{}
	for _, want := range batch {
		if want.ID == 0 || seen[want.ID] {
			t.Fatalf("token %s got id %d (duplicate or unset)", want.Signature, want.ID)
		}
		seen[want.ID] = true
		got := getToken(t, b, want)
		mustEqual(t, got, want, "bulk-created token "+want.Signature)
	}
	must(t, b.Tokens.CreateTokens(ctx, nil), "create no tokens")

	// All or none: a batch whose last row clashes leaves nothing behind.
	clash := []*tokens.Token{fullToken(2000, tokens.KindAccess, c, u.ID), fullToken(2001, tokens.KindAccess, c, u.ID),
		fullToken(1000, tokens.KindAccess, c, u.ID)}
	wantKind(t, b.Tokens.CreateTokens(ctx, clash), apperr.Conflict, "batch with an existing signature")
	_, err := b.Tokens.GetToken(ctx, tokens.KindAccess, clash[0].Signature)
	wantKind(t, err, apperr.NotFound, "first row of a refused batch")
	twice := []*tokens.Token{fullToken(3000, tokens.KindAccess, c, u.ID), fullToken(3000, tokens.KindAccess, c, u.ID)}
	wantKind(t, b.Tokens.CreateTokens(ctx, twice), apperr.Conflict, "batch with one signature twice")
}
