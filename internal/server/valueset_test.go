package server_test

import (
	"net/http"
	"strings"
	"testing"

	"ward/internal/testutil"
)

// TestValueSetsArePublic: the treatment value sets reach anonymous callers
// through the whole handler chain, while a person's cards do not.
func TestValueSetsArePublic(t *testing.T) {
	h := newServer(t, testutil.SQLiteURL(t), nil).Handler()
	for _, id := range []string{"tx-started", "tx-not-started"} {
		res, body := get(t, h, "/api/procedure/valueset/"+id)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/fhir+json" ||
			!strings.Contains(body, `"resourceType":"ValueSet"`) {
			t.Errorf("%s: %d %q %s", id, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	}
	if res, body := get(t, h, "/api/user/1/interventions"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous cards: %d %s", res.StatusCode, body)
	}
}
