package server_test

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"ward/internal/actor"
	"ward/internal/directory"
	"ward/internal/document"
	"ward/internal/testutil"
)

// TestPurgeRemovesDocumentFiles: purging a patient removes their rows by
// cascade and, once that has committed, the document content kept outside
// the database, so nothing of them stays on disk.
func TestPurgeRemovesDocumentFiles(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		svc := newServer(t, dbURL, nil).Services()
		sys := actor.System(context.Background())
		u, err := svc.Directory.CreateUser(sys, directory.NewUser{User: directory.User{Email: "gone@example.org"}, Roles: []string{"patient"}})
		if err != nil {
			t.Fatal(err)
		}
		keep, err := svc.Directory.CreateUser(sys, directory.NewUser{User: directory.User{Email: "kept@example.org"}, Roles: []string{"patient"}})
		if err != nil {
			t.Fatal(err)
		}
		large := bytes.Repeat([]byte("x"), 200<<10) // above the inline threshold: a blob
		for _, p := range []int64{u.ID, keep.ID} {
			if _, err := svc.Documents.Create(sys, &document.Document{PatientID: p, ContentType: "text/plain"}, bytes.NewReader(large)); err != nil {
				t.Fatal(err)
			}
		}
		files := func(p int64) int {
			keys, err := svc.Blobs.List(sys, document.BlobPrefix+"/"+strconv.FormatInt(p, 10)+"/")
			if err != nil {
				t.Fatal(err)
			}
			return len(keys)
		}
		if files(u.ID) != 1 || files(keep.ID) != 1 {
			t.Fatalf("before the purge: %d and %d files, want one each", files(u.ID), files(keep.ID))
		}
		if err := svc.Directory.PurgeUser(sys, u.ID); err != nil {
			t.Fatal(err)
		}
		if n := files(u.ID); n != 0 {
			t.Errorf("the purged patient still has %d files", n)
		}
		if n := files(keep.ID); n != 1 {
			t.Errorf("another patient's file went with the purge: %d left", n)
		}
	})
}
