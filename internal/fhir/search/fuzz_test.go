package search

import (
	"net/url"
	"testing"

	"ward/internal/apperr"
)

// FuzzParse feeds arbitrary query strings through url.ParseQuery and Parse
// for several types. Parse must never panic, must answer either a Query that
// keeps every promise checkQuery knows or an apperr.Invalid error whose
// message names at least one issue, and must be deterministic; an accepted
// Query must survive a round trip through its canonical Values. Seed corpus: testdata/fuzz/FuzzParse plus the seeds below.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "name=Smith", "name:exact=Smith,Jones&name:contains=o", `name=a\,b\\c\|d\$e`,
		"identifier=http://example.org/mrn|123", "identifier=|123", "identifier=sys|", "identifier=a|b|c",
		"gender=female", "gender=http://hl7.org/fhir/administrative-gender|male",
		"birthdate=1970", "birthdate=ge1970-02", "birthdate=lt1970-02-28", "birthdate=eq1970-01-01T10:00Z",
		"birthdate=le1970-01-01T10:00:00%2B02:00", "date=sa2024-05-01T10:00:00.123456789-05:00",
		"birthdate=2023-02-29", "birthdate=xx2000", "birthdate=1970-01-01T10:00",
		"organization=123", "organization=Organization/123", "organization:Organization=1", "subject=Patient/p1",
		"subject=Group/1", "partof=Organization/1/_history/2", "patient=http://x/Patient/1",
		"_id=a,b", "_lastUpdated=gt2024-01-01T00:00:00Z", "_count=10", "_count=0", "_count=99999999999999999999",
		"_summary=count", "_summary=true", "_sort=-_lastUpdated,_id", "_sort=_id,_id", "_cursor=MTIz",
		"_format=json&_pretty=true", "foo=bar", "subject.name=x", ":=", "name=%00", "name=%ff", "a=1;b=2",
		"code=http://loinc.org|1234-5&date=2024&type=person&name=team",
	} {
		f.Add(s)
	}
	types := []string{"Patient", "Observation", "Group", "DocumentReference", "Organization"}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return // not a query the server would hand to Parse
		}
		for _, typ := range types {
			q, err := Parse(typ, v)
			if err != nil {
				if !apperr.Is(err, apperr.Invalid) {
					t.Fatalf("Parse(%s, %q): error kind %v: %v", typ, raw, apperr.KindOf(err), err)
				}
				issues := Issues(err)
				if len(issues) == 0 {
					t.Fatalf("Parse(%s, %q): no issues in %v", typ, raw, err)
				}
				for _, is := range issues {
					if is.Reason == "" { // Param may be "" for "=x"
						t.Fatalf("Parse(%s, %q): empty issue %+v", typ, raw, is)
					}
				}
				if _, again := Parse(typ, v); again == nil || apperr.Message(again) != apperr.Message(err) {
					t.Fatalf("Parse(%s, %q) not deterministic: %v then %v", typ, raw, err, again)
				}
				continue
			}
			if q.ResourceType != typ {
				t.Fatalf("ResourceType %q, want %q", q.ResourceType, typ)
			}
			checkQuery(t, q)
			checkRoundTrip(t, q)
		}
	})
}
