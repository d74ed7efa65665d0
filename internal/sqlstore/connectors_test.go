package sqlstore_test

import (
	"strings"
	"testing"

	"ward/internal/sqlstore/storetest"
	"ward/internal/store"
	"ward/internal/testutil"
)

// TestConnectorConformance runs the connector store cases on both
// backends, each case on a fresh database, with a second handle on it as
// a second replica.
func TestConnectorConformance(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		first := true
		storetest.RunConnectors(t, func(t *testing.T) storetest.ConnectorBackend {
			u := url
			if !first {
				u = freshURL(t, url)
			}
			first = false
			db := testutil.NewStore(t, u)
			return storetest.ConnectorBackend{
				Backend:    storetest.Backend{Directory: db, Audit: db, Tx: db, Roles: db.Roles},
				Connectors: db,
				ConnectorReplica: func(t *testing.T) (storetest.ConnectorStore, store.Transactor) {
					r := testutil.NewStore(t, u)
					return r, r
				},
			}
		})
	})
}

// freshURL is a new empty database of url's kind.
func freshURL(t *testing.T, url string) string {
	if strings.HasPrefix(url, "sqlite") {
		return testutil.SQLiteURL(t)
	}
	return testutil.PostgresURL(t)
}
