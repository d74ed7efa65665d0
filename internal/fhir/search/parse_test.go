package search

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"ward/internal/apperr"
)

func ts(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("bad test time %q: %v", s, err)
	}
	return v.UTC()
}

func parseQ(t *testing.T, typ, raw string) (Query, error) {
	t.Helper()
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatalf("test query %q: %v", raw, err)
	}
	return Parse(typ, v)
}

// wantRefused asserts that err is apperr.Invalid and that one of its issues
// names param with a reason containing reason.
func wantRefused(t *testing.T, err error, param, reason string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want %q refused (%s)", param, reason)
	}
	if !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("error kind %v, want invalid: %v", apperr.KindOf(err), err)
	}
	msg := apperr.Message(err)
	if !strings.Contains(msg, quote(param)) {
		t.Errorf("message %q does not name %q", msg, param)
	}
	for _, is := range Issues(err) {
		if is.Param == param && strings.Contains(is.Reason, reason) {
			return
		}
	}
	t.Errorf("no issue for %q containing %q in %+v", param, reason, Issues(err))
}

// TestParse puts a refused query next to every accepted one, so that each
// rule is shown to both let through what it should and stop what it should.
func TestParse(t *testing.T) {
	day := func(s string) Date { // eq YYYY-MM-DD
		st := ts(t, s+"T00:00:00Z")
		return Date{Prefix: PrefixEq, Start: st, End: st.AddDate(0, 0, 1), Precision: PrecisionDay}
	}
	tests := []struct {
		name string
		typ  string
		ok   string
		want Query // ResourceType is filled in from typ
		bad  string
		// badParam and badReason identify the issue the bad query must raise.
		badParam, badReason string
	}{
		// string
		{"string", "Patient", "name=Smith",
			Query{Clauses: []Clause{{Param: "name", Kind: KindString, Strings: []string{"Smith"}}}},
			"name:sounds=Smith", "name:sounds", "unknown modifier"},
		{"string exact", "Patient", "name:exact=Smith",
			Query{Clauses: []Clause{{Param: "name", Kind: KindString, Modifier: ModifierExact, Strings: []string{"Smith"}}}},
			"name:exact=", "name:exact", "empty value"},
		{"string contains", "Patient", "name:contains=mit",
			Query{Clauses: []Clause{{Param: "name", Kind: KindString, Modifier: ModifierContains, Strings: []string{"mit"}}}},
			"name:text=mit", "name:text", "unknown modifier"},
		{"comma is OR", "Patient", "name=Smith,Jones",
			Query{Clauses: []Clause{{Param: "name", Kind: KindString, Strings: []string{"Smith", "Jones"}}}},
			"name=Smith,,Jones", "name", "empty value between commas"},
		{"repeat is AND", "Patient", "name=Smith&name=Jo",
			Query{Clauses: []Clause{
				{Param: "name", Kind: KindString, Strings: []string{"Smith"}},
				{Param: "name", Kind: KindString, Strings: []string{"Jo"}},
			}},
			"name=Smith&name=", "name", "empty value"},
		{"escaped comma", "Patient", `name=Smith\,Jo`,
			Query{Clauses: []Clause{{Param: "name", Kind: KindString, Strings: []string{"Smith,Jo"}}}},
			`name=Smith\`, "name", "lone"},
		{"escaped backslash, pipe, dollar", "Patient", `name=a\\b\|c\$d`,
			Query{Clauses: []Clause{{Param: "name", Kind: KindString, Strings: []string{`a\b|c$d`}}}},
			`name=a\b`, "name", "needs no escape"},
		{"string with unicode", "Organization", "name=Hôpital+Nord",
			Query{Clauses: []Clause{{Param: "name", Kind: KindString, Strings: []string{"Hôpital Nord"}}}},
			"name=a%00b", "name", "control character"},

		// token
		{"token system|code", "Patient", "identifier=http://example.org/mrn|123",
			Query{Clauses: []Clause{{Param: "identifier", Kind: KindToken, Tokens: []Token{{Match: TokenSystemAndCode, System: "http://example.org/mrn", Code: "123"}}}}},
			"identifier=http://example.org/mrn|1|2", "identifier", `more than one unescaped "|"`},
		{"token |code", "Patient", "identifier=|123",
			Query{Clauses: []Clause{{Param: "identifier", Kind: KindToken, Tokens: []Token{{Match: TokenNoSystem, Code: "123"}}}}},
			"identifier=|", "identifier", "neither a system nor a code"},
		{"token system|", "Practitioner", "identifier=http://hl7.org/fhir/sid/us-npi|",
			Query{Clauses: []Clause{{Param: "identifier", Kind: KindToken, Tokens: []Token{{Match: TokenSystemOnly, System: "http://hl7.org/fhir/sid/us-npi"}}}}},
			"identifier:not=123", "identifier:not", "token parameters take none"},
		{"token code", "Organization", "identifier=123,456",
			Query{Clauses: []Clause{{Param: "identifier", Kind: KindToken, Tokens: []Token{{Match: TokenCode, Code: "123"}, {Match: TokenCode, Code: "456"}}}}},
			`identifier=1\23`, "identifier", "needs no escape"},
		{"token escaped pipe in code", "Patient", `identifier=http://x|a\|b`,
			Query{Clauses: []Clause{{Param: "identifier", Kind: KindToken, Tokens: []Token{{Match: TokenSystemAndCode, System: "http://x", Code: "a|b"}}}}},
			"identifier=http://x|a|b", "identifier", `more than one`},
		{"gender", "Patient", "gender=female,unknown",
			Query{Clauses: []Clause{{Param: "gender", Kind: KindToken, Tokens: []Token{{Match: TokenCode, Code: "female"}, {Match: TokenCode, Code: "unknown"}}}}},
			"gender=mail", "gender", "male, female, other or unknown"},
		{"gender with system", "Patient", "gender=http://hl7.org/fhir/administrative-gender|male",
			Query{Clauses: []Clause{{Param: "gender", Kind: KindToken, Tokens: []Token{{Match: TokenSystemAndCode, System: AdministrativeGender, Code: "male"}}}}},
			"gender=http://snomed.info/sct|248153007", "gender", "coded only in"},
		{"gender system only", "Patient", "gender=http://hl7.org/fhir/administrative-gender|",
			Query{Clauses: []Clause{{Param: "gender", Kind: KindToken, Tokens: []Token{{Match: TokenSystemOnly, System: AdministrativeGender}}}}},
			"gender=http://example.org/gender|", "gender", "coded only in"},
		{"date nine fraction digits", "Observation", "date=2024-05-01T10:00:00.123456789Z",
			Query{Clauses: []Clause{{Param: "date", Kind: KindDate, Dates: []Date{{Prefix: PrefixEq, Start: ts(t, "2024-05-01T10:00:00.123456789Z"), End: ts(t, "2024-05-01T10:00:00.12345679Z"), Precision: PrecisionFraction}}}}},
			"date=2024-05-01T10:00:00.1234567891Z", "date", "at most 9 fraction digits"},
		{"observation code", "Observation", "code=http://loinc.org|85354-9",
			Query{Clauses: []Clause{{Param: "code", Kind: KindToken, Tokens: []Token{{Match: TokenSystemAndCode, System: "http://loinc.org", Code: "85354-9"}}}}},
			"code:text=blood", "code:text", "unknown modifier"},
		{"group type", "Group", "type=person",
			Query{Clauses: []Clause{{Param: "type", Kind: KindToken, Tokens: []Token{{Match: TokenCode, Code: "person"}}}}},
			"identifier=1", "identifier", "not a search parameter ward supports on Group"},
		{"document type", "DocumentReference", "type=http://loinc.org|34133-9",
			Query{Clauses: []Clause{{Param: "type", Kind: KindToken, Tokens: []Token{{Match: TokenSystemAndCode, System: "http://loinc.org", Code: "34133-9"}}}}},
			"type:in=http://x/vs", "type:in", "unknown modifier"},

		// _id
		{"_id list", "Patient", "_id=a1,B-2.c",
			Query{Clauses: []Clause{{Param: "_id", Kind: KindToken, Tokens: []Token{{Match: TokenCode, Code: "a1"}, {Match: TokenCode, Code: "B-2.c"}}}}},
			"_id=a_1", "_id", "not a resource id"},
		{"_id on any type", "Consent", "_id=c1",
			Query{Clauses: []Clause{{Param: "_id", Kind: KindToken, Tokens: []Token{{Match: TokenCode, Code: "c1"}}}}},
			"_id=http://x|c1", "_id", "without a system"},

		// date
		{"date year", "Patient", "birthdate=1970",
			Query{Clauses: []Clause{{Param: "birthdate", Kind: KindDate, Dates: []Date{{Prefix: PrefixEq, Start: ts(t, "1970-01-01T00:00:00Z"), End: ts(t, "1971-01-01T00:00:00Z"), Precision: PrecisionYear}}}}},
			"birthdate=197", "birthdate", "must be YYYY"},
		{"date month ge", "Patient", "birthdate=ge1970-02",
			Query{Clauses: []Clause{{Param: "birthdate", Kind: KindDate, Dates: []Date{{Prefix: PrefixGe, Start: ts(t, "1970-02-01T00:00:00Z"), End: ts(t, "1970-03-01T00:00:00Z"), Precision: PrecisionMonth}}}}},
			"birthdate=xx1970-02", "birthdate", `unknown prefix "xx"`},
		{"date day lt", "Patient", "birthdate=lt1970-02-28",
			Query{Clauses: []Clause{{Param: "birthdate", Kind: KindDate, Dates: []Date{{Prefix: PrefixLt, Start: ts(t, "1970-02-28T00:00:00Z"), End: ts(t, "1970-03-01T00:00:00Z"), Precision: PrecisionDay}}}}},
			"birthdate=1970-02-30", "birthdate", "must be YYYY"},
		{"date leap day gt", "Patient", "birthdate=gt2024-02-29",
			Query{Clauses: []Clause{{Param: "birthdate", Kind: KindDate, Dates: []Date{{Prefix: PrefixGt, Start: ts(t, "2024-02-29T00:00:00Z"), End: ts(t, "2024-03-01T00:00:00Z"), Precision: PrecisionDay}}}}},
			"birthdate=2023-02-29", "birthdate", "must be YYYY"},
		{"date minute with zone", "Patient", "birthdate=eq1970-01-01T10:00Z",
			Query{Clauses: []Clause{{Param: "birthdate", Kind: KindDate, Dates: []Date{{Prefix: PrefixEq, Start: ts(t, "1970-01-01T10:00:00Z"), End: ts(t, "1970-01-01T10:01:00Z"), Precision: PrecisionMinute}}}}},
			"birthdate=1970-01-01T10:00", "birthdate", "no time zone"},
		{"date second with offset le", "Patient", "birthdate=le1970-01-01T10:00:00%2B02:00",
			Query{Clauses: []Clause{{Param: "birthdate", Kind: KindDate, Dates: []Date{{Prefix: PrefixLe, Start: ts(t, "1970-01-01T08:00:00Z"), End: ts(t, "1970-01-01T08:00:01Z"), Precision: PrecisionSecond}}}}},
			"birthdate=1970-01-01T24:00:00Z", "birthdate", "must be YYYY"},
		{"date fraction sa", "Observation", "date=sa2024-05-01T10:00:00.25-05:00",
			Query{Clauses: []Clause{{Param: "date", Kind: KindDate, Dates: []Date{{Prefix: PrefixSa, Start: ts(t, "2024-05-01T15:00:00.25Z"), End: ts(t, "2024-05-01T15:00:00.26Z"), Precision: PrecisionFraction}}}}},
			"date=2024-05-01T10:00:00.Z", "date", "must be YYYY"},
		{"date ne eb ap OR", "Procedure", "date=ne2024-01-01,eb2024-01-02,ap2024-01-03",
			Query{Clauses: []Clause{{Param: "date", Kind: KindDate, Dates: []Date{
				func() Date { d := day("2024-01-01"); d.Prefix = PrefixNe; return d }(),
				func() Date { d := day("2024-01-02"); d.Prefix = PrefixEb; return d }(),
				func() Date { d := day("2024-01-03"); d.Prefix = PrefixAp; return d }(),
			}}}},
			"date:missing=true", "date:missing", "date parameters take none"},
		{"date on DocumentReference", "DocumentReference", "date=2024-01-01",
			Query{Clauses: []Clause{{Param: "date", Kind: KindDate, Dates: []Date{day("2024-01-01")}}}},
			"date=EQ2024-01-01", "date", "must be YYYY"},
		{"date with space for plus is refused but encoded plus works", "Patient", "birthdate=2000-01-01T00:00:00%2B14:00",
			Query{Clauses: []Clause{{Param: "birthdate", Kind: KindDate, Dates: []Date{{Prefix: PrefixEq, Start: ts(t, "1999-12-31T10:00:00Z"), End: ts(t, "1999-12-31T10:00:01Z"), Precision: PrecisionSecond}}}}},
			"birthdate=2000-01-01T00:00:00+02:00", "birthdate", "no time zone"},
		{"date out of range in UTC", "Patient", "birthdate=0001-01-01T00:00:00Z",
			Query{Clauses: []Clause{{Param: "birthdate", Kind: KindDate, Dates: []Date{{Prefix: PrefixEq, Start: ts(t, "0001-01-01T00:00:00Z"), End: ts(t, "0001-01-01T00:00:01Z"), Precision: PrecisionSecond}}}}},
			"birthdate=0001-01-01T00:00:00%2B01:00", "birthdate", "outside the years"},
		{"_lastUpdated", "Organization", "_lastUpdated=gt2024-01-01T00:00:00Z",
			Query{Clauses: []Clause{{Param: "_lastUpdated", Kind: KindDate, Dates: []Date{{Prefix: PrefixGt, Start: ts(t, "2024-01-01T00:00:00Z"), End: ts(t, "2024-01-01T00:00:01Z"), Precision: PrecisionSecond}}}}},
			"_lastUpdated=2024-01-01T00:00:00%2B15:00", "_lastUpdated", "must be YYYY"},

		// reference
		{"reference bare id", "Patient", "organization=123",
			Query{Clauses: []Clause{{Param: "organization", Kind: KindReference, References: []Reference{{Type: "Organization", ID: "123"}}}}},
			"organization=Patient/123", "organization", "may refer only to Organization"},
		{"reference Type/id", "Patient", "organization=Organization/123",
			Query{Clauses: []Clause{{Param: "organization", Kind: KindReference, References: []Reference{{Type: "Organization", ID: "123"}}}}},
			"organization=http://example.org/fhir/Organization/123", "organization", "absolute reference"},
		{"reference type modifier", "Patient", "organization:Organization=123",
			Query{Clauses: []Clause{{Param: "organization", Kind: KindReference, References: []Reference{{Type: "Organization", ID: "123"}}}}},
			"organization:Patient=123", "organization:Patient", "unknown modifier"},
		{"partof", "Organization", "partof=Organization/1,2",
			Query{Clauses: []Clause{{Param: "partof", Kind: KindReference, References: []Reference{{Type: "Organization", ID: "1"}, {Type: "Organization", ID: "2"}}}}},
			"partof=Organization/1/_history/2", "partof", "must be id or Type/id"},
		{"observation subject", "Observation", "subject=Patient/p1",
			Query{Clauses: []Clause{{Param: "subject", Kind: KindReference, References: []Reference{{Type: "Patient", ID: "p1"}}}}},
			"subject=Group/g1", "subject", "may refer only to Patient"},
		{"observation patient", "Observation", "patient=p1",
			Query{Clauses: []Clause{{Param: "patient", Kind: KindReference, References: []Reference{{Type: "Patient", ID: "p1"}}}}},
			"patient=p_1", "patient", "resource id"},
		{"procedure subject with modifier", "Procedure", "subject:Patient=Patient/7",
			Query{Clauses: []Clause{{Param: "subject", Kind: KindReference, References: []Reference{{Type: "Patient", ID: "7"}}}}},
			"subject:identifier=http://x|1", "subject:identifier", "unknown modifier"},
		{"consent patient", "Consent", "patient=Patient/1",
			Query{Clauses: []Clause{{Param: "patient", Kind: KindReference, References: []Reference{{Type: "Patient", ID: "1"}}}}},
			"subject=1", "subject", "not a search parameter ward supports on Consent"},
		{"document subject", "DocumentReference", "subject=Patient/1&patient=2",
			Query{Clauses: []Clause{
				{Param: "patient", Kind: KindReference, References: []Reference{{Type: "Patient", ID: "2"}}},
				{Param: "subject", Kind: KindReference, References: []Reference{{Type: "Patient", ID: "1"}}},
			}},
			"subject=Practitioner/1", "subject", "may refer only to Patient"},
		{"reference empty id", "Consent", "patient=Patient/9",
			Query{Clauses: []Clause{{Param: "patient", Kind: KindReference, References: []Reference{{Type: "Patient", ID: "9"}}}}},
			"patient=Patient/", "patient", "resource id"},

		// result parameters
		{"_count", "Patient", "_count=1000",
			Query{Count: 1000},
			"_count=1001", "_count", "from 1 to 1000"},
		{"_count low", "Patient", "_count=1",
			Query{Count: 1},
			"_count=0", "_count", "from 1 to 1000"},
		{"_count plain digits", "Group", "_count=050",
			Query{Count: 50},
			"_count=%2B5", "_count", "whole number"},
		{"_count once", "Group", "_count=20",
			Query{Count: 20},
			"_count=20&_count=30", "_count", "only once"},
		{"_count number", "Practitioner", "_count=7",
			Query{Count: 7},
			"_count=ten", "_count", "whole number"},
		{"_summary count", "Patient", "_summary=count",
			Query{Summary: SummaryCount},
			"_summary=true", "_summary", "use count or false"},
		{"_summary false", "Observation", "_summary=false",
			Query{Summary: SummaryFalse},
			"_summary:x=false", "_summary:x", "takes no modifier"},
		{"_sort", "Patient", "_sort=-_lastUpdated,_id",
			Query{Sort: []SortKey{{Param: "_lastUpdated", Descending: true}, {Param: "_id"}}},
			"_sort=name", "_sort", "cannot sort by"},
		{"_sort ascending", "Patient", "_sort=_lastUpdated",
			Query{Sort: []SortKey{{Param: "_lastUpdated"}}},
			"_sort=_lastUpdated,-_lastUpdated", "_sort", "twice"},
		{"_cursor", "Patient", "_cursor=MTIz.abc-_~=",
			Query{Cursor: "MTIz.abc-_~="},
			"_cursor=a+b", "_cursor", "not a cursor"},
		{"_cursor long", "Patient", "_cursor=" + strings.Repeat("a", MaxCursorLen),
			Query{Cursor: strings.Repeat("a", MaxCursorLen)},
			"_cursor=" + strings.Repeat("a", MaxCursorLen+1), "_cursor", "not a cursor"},
		{"_format and _pretty ignored", "Patient", "_format=json&_pretty=true&_format=application/fhir%2Bjson",
			Query{},
			"_format:x=json", "_format:x", "takes no modifier"},

		// unknown parameters
		{"no parameters", "Patient", "",
			Query{},
			"_include=Patient:organization", "_include", "not a search parameter"},
		{"everything at once", "Patient", "name=a&gender=male&birthdate=ge2000&_count=5&_sort=_id",
			Query{Clauses: []Clause{
				{Param: "birthdate", Kind: KindDate, Dates: []Date{{Prefix: PrefixGe, Start: ts(t, "2000-01-01T00:00:00Z"), End: ts(t, "2001-01-01T00:00:00Z"), Precision: PrecisionYear}}},
				{Param: "gender", Kind: KindToken, Tokens: []Token{{Match: TokenCode, Code: "male"}}},
				{Param: "name", Kind: KindString, Strings: []string{"a"}},
			}, Count: 5, Sort: []SortKey{{Param: "_id"}}},
			"organization.name=Acme", "organization.name", "chained"},
		{"group name is ward's own", "Group", "name=team",
			Query{Clauses: []Clause{{Param: "name", Kind: KindString, Strings: []string{"team"}}}},
			"birthdate=2000", "birthdate", "not a search parameter"},
		{"modifier without name", "Patient", "name=x",
			Query{Clauses: []Clause{{Param: "name", Kind: KindString, Strings: []string{"x"}}}},
			":exact=x", ":exact", "no name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseQ(t, tc.typ, tc.ok)
			if err != nil {
				t.Fatalf("Parse(%s, %q): %v", tc.typ, tc.ok, err)
			}
			want := tc.want
			want.ResourceType = tc.typ
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Parse(%s, %q)\n got %+v\nwant %+v", tc.typ, tc.ok, got, want)
			}
			checkQuery(t, got)
			checkRoundTrip(t, got)

			_, err = parseQ(t, tc.typ, tc.bad)
			wantRefused(t, err, tc.badParam, tc.badReason)
		})
	}
}

func TestParseNamesEveryBadParameter(t *testing.T) {
	_, err := parseQ(t, "Patient", "name:x=a&birthdate=1970-13&foo=1&_count=0&gender=male&organization=Group/1")
	for _, p := range []string{"name:x", "birthdate", "foo", "_count", "organization"} {
		wantRefused(t, err, p, "")
	}
	if n := len(Issues(err)); n != 5 {
		t.Errorf("%d issues, want 5 (gender is fine): %+v", n, Issues(err))
	}
	// The same bad query gives the same message, whatever the map order.
	_, again := parseQ(t, "Patient", "organization=Group/1&gender=male&_count=0&foo=1&birthdate=1970-13&name:x=a")
	if apperr.Message(err) != apperr.Message(again) {
		t.Errorf("messages differ:\n%s\n%s", apperr.Message(err), apperr.Message(again))
	}
}

func TestParseUnknownType(t *testing.T) {
	if _, err := Parse("Patient", nil); err != nil {
		t.Fatalf("Patient with no query: %v", err)
	}
	_, err := Parse("Encounter", url.Values{})
	if !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.Message(err), "Encounter") {
		t.Fatalf("Encounter: %v", err)
	}
	if Issues(err) != nil || Issues(nil) != nil {
		t.Errorf("Issues of an error not about parameters should be nil")
	}
}

func TestLimits(t *testing.T) {
	many := func(n int, kv string) string { return strings.TrimSuffix(strings.Repeat(kv+"&", n), "&") }
	tests := []struct {
		name       string
		ok, bad    string
		param, why string
	}{
		{"parameter count", many(MaxParams, "name=a"), many(MaxParams+1, "name=a"), "(query)", "at most 50"},
		{"values per parameter", "_id=" + strings.TrimSuffix(strings.Repeat("a,", MaxOrValues), ","), "_id=" + strings.Repeat("a,", MaxOrValues) + "a", "_id", "more than 20"},
		{"value length", "name=" + strings.Repeat("x", MaxValueLen), "name=" + strings.Repeat("x", MaxValueLen+1), "name", "longer than"},
		{"name length", "name:contains=x", strings.Repeat("n", MaxNameLen+1) + "=x", strings.Repeat("n", MaxNameLen) + "…", "longer than"},
		{"UTF-8", "name=%C3%A9", "name=%C3", "name", "not valid UTF-8"},
		{"control character in name", "name=x", "na%0Ame=x", "na\nme", "control character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := parseQ(t, "Patient", tc.ok)
			if err != nil {
				t.Fatalf("at the limit: %v", err)
			}
			checkQuery(t, q)
			_, err = parseQ(t, "Patient", tc.bad)
			wantRefused(t, err, tc.param, tc.why)
		})
	}
}

// TestLimitsBeforeParsing shows that a query over the limits is refused as
// such, without a word about its (also bad) values: they were never parsed.
func TestLimitsBeforeParsing(t *testing.T) {
	v := url.Values{"birthdate": {"nonsense"}, "name": {strings.Repeat("x", MaxValueLen+1)}}
	_, err := Parse("Patient", v)
	wantRefused(t, err, "name", "longer than")
	if n := len(Issues(err)); n != 1 {
		t.Errorf("issues %+v: want only the limit", Issues(err))
	}
}

func TestQuoteBoundsMessages(t *testing.T) {
	long := strings.Repeat("€", 100) // three bytes each: quote must cut between runes
	_, err := Parse("Patient", url.Values{"name": {long}, "birthdate": {long}})
	msg := apperr.Message(err)
	if !utf8.ValidString(msg) {
		t.Errorf("message is not UTF-8: %q", msg)
	}
	if len(msg) > 400 {
		t.Errorf("message is %d bytes: %s", len(msg), msg)
	}
	if !strings.Contains(msg, "birthdate") {
		t.Errorf("message %q does not name birthdate", msg)
	}
}
