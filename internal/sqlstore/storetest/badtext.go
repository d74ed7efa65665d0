package storetest

import (
	"testing"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/store"
)

// testBadText: text with a NUL byte or invalid UTF-8 is Invalid on every
// backend, in a lookup as in a write, and nothing is written. PostgreSQL
// refuses such text itself (SQLSTATE 22021, once a 500) while SQLite would
// store it, so the backends must check before the database does.
func testBadText(t *testing.T, b Backend) {
	ctx := t.Context()
	for _, bad := range []string{"a\x00b@example.org", "a\xffb@example.org", "\xc0\x80@example.org"} {
		_, err := b.Directory.GetUserByEmail(ctx, bad)
		wantKind(t, err, apperr.Invalid, "GetUserByEmail")
		wantKind(t, b.Directory.CreateUser(ctx, &directory.User{Email: bad, Registered: base}), apperr.Invalid, "CreateUser with a bad email")
		wantKind(t, b.Directory.CreateUser(ctx, &directory.User{Email: "ok@example.org", GivenName: bad, Registered: base}), apperr.Invalid, "CreateUser with a bad name")
		wantKind(t, b.Directory.CreateOrganization(ctx, &directory.Organization{Name: bad}), apperr.Invalid, "CreateOrganization")
		// A search matches on lowercased keys, and lowercasing turns
		// invalid bytes into U+FFFD, which matches nothing; a NUL stays.
		users, _, err := b.Directory.SearchUsers(ctx, directory.UserFilter{Email: bad}, store.Page{Limit: 10})
		if err != nil {
			wantKind(t, err, apperr.Invalid, "SearchUsers")
		} else if len(users) != 0 {
			t.Fatalf("SearchUsers(%q) found %d users", bad, len(users))
		}
	}
	if _, err := b.Directory.GetUserByEmail(ctx, "ok@example.org"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a refused CreateUser wrote a user: %v", err)
	}
	// Other Unicode is text like any other.
	u := &directory.User{Email: "zoë@example.org", GivenName: "Zoë 日本 🏥", Registered: base}
	must(t, b.Directory.CreateUser(ctx, u), "CreateUser with Unicode")
	got, err := b.Directory.GetUserByEmail(ctx, "ZOË@example.org")
	must(t, err, "GetUserByEmail with Unicode")
	if got.ID != u.ID || got.GivenName != u.GivenName {
		t.Fatalf("Unicode user read back as %+v", got)
	}
}
