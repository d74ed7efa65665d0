package sqlstore_test

import (
	"testing"

	"ward/internal/sqlstore/storetest"
	"ward/internal/testutil"
)

// TestDocumentConformance runs the document.Store cases on both backends,
// each case on a fresh database as TestConformance does.
func TestDocumentConformance(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		open := freshStores(url) // each case gets its own fresh database
		storetest.RunDocuments(t, func(t *testing.T) storetest.DocumentBackend {
			db := open(t)
			return storetest.DocumentBackend{
				Backend:   storetest.Backend{Directory: db, Audit: db, Tx: db, Roles: db.Roles},
				Documents: db,
			}
		})
	})
}
