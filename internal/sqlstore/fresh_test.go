package sqlstore_test

import (
	"strings"
	"testing"

	"ward/internal/sqlstore"
	"ward/internal/testutil"
)

// freshStores returns an opener for the conformance suites: the first
// call opens url (the database ForEachDB gave), every later one a new,
// empty database of the same kind, so each case runs on its own.
func freshStores(url string) func(t *testing.T) *sqlstore.DB {
	first := true
	return func(t *testing.T) *sqlstore.DB {
		u := url
		if !first {
			if strings.HasPrefix(url, "sqlite") {
				u = testutil.SQLiteURL(t)
			} else {
				u = testutil.PostgresURL(t)
			}
		}
		first = false
		return testutil.NewStore(t, u)
	}
}
