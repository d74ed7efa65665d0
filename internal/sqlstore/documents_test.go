package sqlstore_test

import (
	"strings"
	"testing"

	"ward/internal/sqlstore/storetest"
	"ward/internal/testutil"
)

// TestDocumentConformance runs the document.Store cases on both backends,
// each case on a fresh database as TestConformance does.
func TestDocumentConformance(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		first := true
		storetest.RunDocuments(t, func(t *testing.T) storetest.DocumentBackend {
			u := url
			if !first {
				if strings.HasPrefix(url, "sqlite") {
					u = testutil.SQLiteURL(t)
				} else {
					u = testutil.PostgresURL(t)
				}
			}
			first = false
			db := testutil.NewStore(t, u)
			return storetest.DocumentBackend{
				Backend:   storetest.Backend{Directory: db, Audit: db, Tx: db, Roles: db.Roles},
				Documents: db,
			}
		})
	})
}
