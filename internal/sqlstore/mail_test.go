package sqlstore_test

import (
	"testing"

	"ward/internal/sqlstore/storetest"
	"ward/internal/testutil"
)

// TestMailConformance runs the mail store cases on both backends, each
// case on a fresh database as TestConformance does.
func TestMailConformance(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		open := freshStores(url) // each case gets its own fresh database
		storetest.RunMail(t, func(t *testing.T) storetest.MailBackend {
			db := open(t)
			return storetest.MailBackend{
				Backend: storetest.Backend{Directory: db, Audit: db, Tx: db, Roles: db.Roles},
				Mail:    db, Recipients: db, Admins: db,
			}
		})
	})
}
