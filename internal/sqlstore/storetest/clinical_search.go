package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/clinical"
	"ward/internal/store"
	"ward/internal/timerange"
)

// clinicalSearchCases are the conformance cases of the clinical searches,
// each run on observations and on procedures.
var clinicalSearchCases = []struct {
	name string
	fn   func(t *testing.T, b Backend, k clinicalSearchKind)
}{
	{"Tokens", testClinicalSearchTokens},
	{"DatePrefixes", testClinicalSearchDates},
	{"LastUpdated", testClinicalSearchUpdated},
	{"IDsAndPatients", testClinicalSearchIDsPatients},
	{"PagingAndCount", testClinicalSearchPaging},
	{"DeletedExcluded", testClinicalSearchDeleted},
	{"CodesFollowUpdates", testClinicalSearchCodesUpdated},
	{"ScanFiltered", testClinicalScanFiltered},
}

func init() {
	for _, c := range clinicalSearchCases {
		for _, k := range clinicalSearchKinds {
			clinicalCases = append(clinicalCases, struct {
				name string
				fn   func(t *testing.T, b Backend)
			}{"ClinicalSearch" + c.name + k.name, func(t *testing.T, b Backend) { c.fn(t, b, k) }})
		}
	}
}

// clinicalSearchKind runs the same cases on observations and procedures, through
// ids: what each case checks is which rows come back.
type clinicalSearchKind struct {
	name string
	// create stores a resource; occ is its clinical time (effective or
	// performed), issued is read by observations only.
	create func(ctx context.Context, t *testing.T, b Backend, patient int64, codes []clinical.Coding, occ clinical.Occurrence, issued time.Time) int64
	get    func(t *testing.T, b Backend, id int64) (version int64, updated time.Time)
	// setCodes updates the resource's codes (and nothing else).
	setCodes func(t *testing.T, b Backend, id int64, codes []clinical.Coding)
	delete   func(t *testing.T, b Backend, id int64)
	search   func(ctx context.Context, b Backend, f clinical.Filter, p store.Page) ([]int64, string, error)
	count    func(ctx context.Context, b Backend, f clinical.Filter) (int, error)
	scan     func(ctx context.Context, b Backend, f clinical.Filter, after int64, fn func(id int64) error) error
	// matches is the domain's reference matcher on the stored row.
	matches func(t *testing.T, b Backend, f clinical.Filter, id int64) bool
	// needsTime: a procedure must have performed[x].
	needsTime bool
}

var clinicalSearchKinds = []clinicalSearchKind{
	searchKindOf("Observation", observationRecords,
		func(patient int64, codes []clinical.Coding, occ clinical.Occurrence, issued time.Time) *clinical.Observation {
			return &clinical.Observation{PatientID: patient, Status: clinical.ObsFinal, Code: codes, Effective: occ, Issued: issued}
		},
		func(f clinical.Filter, o *clinical.Observation) bool { return f.MatchesObservation(o, f.Now) }, false),
	searchKindOf("Procedure", procedureRecords,
		func(patient int64, codes []clinical.Coding, occ clinical.Occurrence, _ time.Time) *clinical.Procedure {
			return &clinical.Procedure{PatientID: patient, Status: clinical.ProcCompleted, Code: codes, Performed: occ}
		},
		func(f clinical.Filter, p *clinical.Procedure) bool { return f.MatchesProcedure(p, f.Now) }, true),
}

// searchKindOf is the clinicalSearchKind of the records k describes: mk
// makes a new one, matches is the reference the store's searches must
// agree with.
func searchKindOf[T any, P clinical.Record[T]](name string, k recordKind[T, P],
	mk func(patient int64, codes []clinical.Coding, occ clinical.Occurrence, issued time.Time) *T,
	matches func(clinical.Filter, *T) bool, needsTime bool) clinicalSearchKind {
	rs := func(b Backend) clinical.Records[T] { return k.records(b.Clinical) }
	id := func(r *T) int64 { return *P(r).Head().ID }
	return clinicalSearchKind{
		name: name,
		create: func(ctx context.Context, t *testing.T, b Backend, patient int64, codes []clinical.Coding, occ clinical.Occurrence, issued time.Time) int64 {
			t.Helper()
			r := mk(patient, codes, occ, issued)
			must(t, rs(b).Create(ctx, r), "create "+k.name)
			return id(r)
		},
		get: func(t *testing.T, b Backend, id int64) (int64, time.Time) {
			h := P(k.get(t, b, id)).Head()
			return *h.Version, *h.UpdatedAt
		},
		setCodes: func(t *testing.T, b Backend, id int64, codes []clinical.Coding) {
			t.Helper()
			r := k.get(t, b, id)
			*P(r).Head().Code = codes
			must(t, rs(b).Update(t.Context(), r), "update "+k.name)
		},
		delete: func(t *testing.T, b Backend, id int64) {
			t.Helper()
			must(t, rs(b).Delete(t.Context(), id, *P(k.get(t, b, id)).Head().Version, base), "delete "+k.name)
		},
		search: func(ctx context.Context, b Backend, f clinical.Filter, p store.Page) ([]int64, string, error) {
			got, next, err := rs(b).Search(ctx, f, p)
			var ids []int64
			for _, r := range got {
				ids = append(ids, id(r))
			}
			return ids, next, err
		},
		count: func(ctx context.Context, b Backend, f clinical.Filter) (int, error) {
			return rs(b).CountMatching(ctx, f)
		},
		scan: func(ctx context.Context, b Backend, f clinical.Filter, after int64, fn func(int64) error) error {
			return rs(b).ScanFiltered(ctx, f, after, func(r *T) error {
				if P(r).Deleted() {
					return errors.New("scan returned a deleted " + k.name)
				}
				return fn(id(r))
			})
		},
		matches: func(t *testing.T, b Backend, f clinical.Filter, id int64) bool {
			return matches(f, k.get(t, b, id))
		},
		needsTime: needsTime,
	}
}

// csMarch is a day of March 2024 at the given hour, UTC.
func csMarch(day, hour int) time.Time { return time.Date(2024, 3, day, hour, 0, 0, 0, time.UTC) }

func csAt(t time.Time) *time.Time { return &t }

// clinicalSearchIDs runs a search expected to fit in one page and checks that the
// count and a filtered scan agree with it.
func clinicalSearchIDs(t *testing.T, b Backend, k clinicalSearchKind, f clinical.Filter, what string) []int64 {
	t.Helper()
	ctx := t.Context()
	ids, next, err := k.search(ctx, b, f, store.Page{Limit: store.MaxLimit})
	must(t, err, what+": search")
	if next != "" {
		t.Fatalf("%s: one page expected, got a next cursor", what)
	}
	n, err := k.count(ctx, b, f)
	must(t, err, what+": count")
	if n != len(ids) {
		t.Fatalf("%s: count %d, search found %d", what, n, len(ids))
	}
	var scanned []int64
	must(t, k.scan(ctx, b, f, 0, func(id int64) error { scanned = append(scanned, id); return nil }), what+": scan")
	mustEqual(t, scanned, ids, what+": scan agrees with search")
	if !slices.IsSorted(ids) {
		t.Fatalf("%s: ids %v not ascending", what, ids)
	}
	return ids
}

func csLoinc(code string) clinical.Coding {
	return clinical.Coding{System: "http://loinc.org", Code: code, Display: "L" + code}
}

func testClinicalSearchTokens(t *testing.T, b Backend, k clinicalSearchKind) {
	pat, _, _ := clinicalUsers(t, b)
	occ := clinical.Occurrence{DateTime: csAt(csMarch(1, 0))}
	snomed := func(code string) clinical.Coding { return clinical.Coding{System: clinical.SNOMEDSystem, Code: code} }
	// Code "1" exists in two systems, so "1" and "system|1" differ; a
	// coding stored without a system is what "|code" finds.
	a := k.create(t.Context(), t, b, pat, []clinical.Coding{snomed("1"), csLoinc("A")}, occ, base)
	c := k.create(t.Context(), t, b, pat, []clinical.Coding{snomed("2"), csLoinc("1")}, occ, base)
	d := k.create(t.Context(), t, b, pat, []clinical.Coding{snomed("3"), {Code: "1"}, snomed("3")}, occ, base) // duplicate coding
	one := func(m clinical.CodeMatch) clinical.Filter {
		return clinical.Filter{Codes: [][]clinical.CodeMatch{{m}}}
	}
	cases := []struct {
		what string
		f    clinical.Filter
		want []int64
	}{
		{"code in any system", one(clinical.CodeMatch{Match: clinical.CodeAnySystem, Code: "1"}), []int64{a, c, d}},
		{"system|code", one(clinical.CodeMatch{Match: clinical.CodeSystemAndCode, System: "http://loinc.org", Code: "1"}), []int64{c}},
		{"system|code, another system", one(clinical.CodeMatch{Match: clinical.CodeSystemAndCode, System: clinical.SNOMEDSystem, Code: "1"}), []int64{a}},
		{"|code", one(clinical.CodeMatch{Match: clinical.CodeNoSystem, Code: "1"}), []int64{d}},
		{"system|", one(clinical.CodeMatch{Match: clinical.CodeSystemOnly, System: "http://loinc.org"}), []int64{a, c}},
		{"unknown code", one(clinical.CodeMatch{Match: clinical.CodeAnySystem, Code: "nope"}), nil},
		{"unknown system", one(clinical.CodeMatch{Match: clinical.CodeSystemOnly, System: "http://nope"}), nil},
		{"an OR list", clinical.Filter{Codes: [][]clinical.CodeMatch{{
			{Match: clinical.CodeSystemAndCode, System: clinical.SNOMEDSystem, Code: "1"},
			{Match: clinical.CodeSystemAndCode, System: clinical.SNOMEDSystem, Code: "3"},
		}}}, []int64{a, d}},
		{"AND of OR lists", clinical.Filter{Codes: [][]clinical.CodeMatch{
			{{Match: clinical.CodeAnySystem, Code: "1"}},
			{{Match: clinical.CodeSystemAndCode, System: "http://loinc.org", Code: "A"}, {Match: clinical.CodeNoSystem, Code: "1"}},
		}}, []int64{a, d}},
		// More clauses than the cached query shapes take (see the SQL store).
		{"three ANDed lists", clinical.Filter{Codes: [][]clinical.CodeMatch{
			{{Match: clinical.CodeAnySystem, Code: "1"}},
			{{Match: clinical.CodeSystemOnly, System: clinical.SNOMEDSystem}},
			{{Match: clinical.CodeSystemAndCode, System: "http://loinc.org", Code: "A"}, {Match: clinical.CodeNoSystem, Code: "1"}},
		}}, []int64{a, d}},
		{"AND that no row satisfies", clinical.Filter{Codes: [][]clinical.CodeMatch{
			{{Match: clinical.CodeAnySystem, Code: "A"}}, {{Match: clinical.CodeAnySystem, Code: "2"}},
		}}, nil},
		{"an empty OR list matches nothing", clinical.Filter{Codes: [][]clinical.CodeMatch{{}}}, nil},
		{"codes with a patient", clinical.Filter{PatientIDs: []int64{pat},
			Codes: [][]clinical.CodeMatch{{{Match: clinical.CodeAnySystem, Code: "2"}}}}, []int64{c}},
	}
	for _, tc := range cases {
		mustEqual(t, clinicalSearchIDs(t, b, k, tc.f, tc.what), tc.want, tc.what)
		for _, id := range []int64{a, c, d} {
			if got := k.matches(t, b, tc.f, id); got != slices.Contains(tc.want, id) {
				t.Fatalf("%s: the domain's reference says %v for %d", tc.what, got, id)
			}
		}
	}
}

// testClinicalSearchDates checks every R4 prefix against instants, closed
// periods, periods open at either end and (observations) the issued
// fallback, with the search value 2024-03-10 (the whole day).
func testClinicalSearchDates(t *testing.T, b Backend, k clinicalSearchKind) {
	pat, _, _ := clinicalUsers(t, b)
	codes := []clinical.Coding{{System: clinical.SNOMEDSystem, Code: "1"}}
	mk := func(occ clinical.Occurrence, issued time.Time) int64 {
		return k.create(t.Context(), t, b, pat, codes, occ, issued)
	}
	ids := map[string]int64{
		"A":  mk(clinical.Occurrence{DateTime: csAt(csMarch(10, 12))}, csMarch(30, 0)),                        // instant within the day
		"B":  mk(clinical.Occurrence{DateTime: csAt(csMarch(5, 0))}, csMarch(30, 0)),                          // instant before
		"C":  mk(clinical.Occurrence{DateTime: csAt(csMarch(20, 0))}, csMarch(30, 0)),                         // instant after
		"P1": mk(clinical.Occurrence{Start: csAt(csMarch(9, 0)), End: csAt(csMarch(12, 0))}, csMarch(30, 0)),  // covers the day
		"P2": mk(clinical.Occurrence{End: csAt(csMarch(8, 0))}, csMarch(30, 0)),                               // open start, ends before
		"P3": mk(clinical.Occurrence{Start: csAt(csMarch(15, 0))}, csMarch(30, 0)),                            // starts after, still going
		"P4": mk(clinical.Occurrence{Start: csAt(csMarch(10, 1)), End: csAt(csMarch(10, 2))}, csMarch(30, 0)), // within the day
		// Ends at the day's first instant: a period's end is inclusive, so
		// it touches the day and does not end before it.
		"P5": mk(clinical.Occurrence{Start: csAt(csMarch(7, 0)), End: csAt(csMarch(10, 0))}, csMarch(30, 0)),
	}
	if !k.needsTime {
		ids["I"] = mk(clinical.Occurrence{}, csMarch(10, 5)) // no effective: issued within the day
	}
	day := timerange.Bound{Start: csMarch(10, 0), End: csMarch(11, 0)}
	cases := []struct {
		prefix timerange.Prefix
		want   []string
	}{
		{timerange.Eq, []string{"A", "P4", "I"}},
		{timerange.Ne, []string{"B", "C", "P1", "P2", "P3", "P5"}},
		{timerange.Gt, []string{"C", "P1", "P3"}},
		{timerange.Lt, []string{"B", "P1", "P2", "P5"}},
		{timerange.Ge, []string{"A", "C", "P1", "P3", "P4", "I"}},
		{timerange.Le, []string{"A", "B", "P1", "P2", "P4", "P5", "I"}},
		{timerange.Sa, []string{"C", "P3"}},
		{timerange.Eb, []string{"B", "P2"}},
		// Now is the searched day, so "ap" widens by the minimum, a day.
		{timerange.Ap, []string{"A", "P1", "P4", "P5", "I"}},
	}
	all := make([]int64, 0, len(ids))
	for _, id := range ids {
		all = append(all, id)
	}
	for _, c := range cases {
		bound := day
		bound.Prefix = c.prefix
		f := clinical.Filter{PatientIDs: []int64{pat}, Dates: []timerange.Bound{bound}, Now: csMarch(10, 0)}
		var want []int64
		for _, name := range c.want {
			if id, ok := ids[name]; ok {
				want = append(want, id)
			}
		}
		slices.Sort(want)
		what := "date=" + string(c.prefix) + "2024-03-10"
		mustEqual(t, clinicalSearchIDs(t, b, k, f, what), want, what)
		for _, id := range all {
			if got := k.matches(t, b, f, id); got != slices.Contains(want, id) {
				t.Fatalf("%s: the domain's reference says %v for %d", what, got, id)
			}
		}
	}
	// Bounds AND: ge the 9th and lt the 11th leaves what lies at least
	// partly in [9th, 11th) (R4: ranges overlap-compare per prefix).
	f := clinical.Filter{Dates: []timerange.Bound{
		{Prefix: timerange.Ge, Start: csMarch(9, 0), End: csMarch(10, 0)},
		{Prefix: timerange.Le, Start: csMarch(10, 0), End: csMarch(11, 0)},
	}, Now: csMarch(10, 0)}
	want := []int64{ids["A"], ids["P1"], ids["P4"], ids["P5"]}
	if id, ok := ids["I"]; ok {
		want = append(want, id)
	}
	slices.Sort(want)
	mustEqual(t, clinicalSearchIDs(t, b, k, f, "ge and le"), want, "two date bounds")
	// A third bound (more than the cached query shapes take): starting
	// after the 8th drops P5.
	f.Dates = append(f.Dates, timerange.Bound{Prefix: timerange.Sa, Start: csMarch(8, 0), End: csMarch(9, 0)})
	want = slices.DeleteFunc(want, func(id int64) bool { return id == ids["P5"] })
	mustEqual(t, clinicalSearchIDs(t, b, k, f, "ge, le and sa"), want, "three date bounds")
}

func testClinicalSearchUpdated(t *testing.T, b Backend, k clinicalSearchKind) {
	pat, _, _ := clinicalUsers(t, b)
	codes := []clinical.Coding{{System: clinical.SNOMEDSystem, Code: "1"}}
	occ := clinical.Occurrence{DateTime: csAt(csMarch(1, 0))}
	first := k.create(t.Context(), t, b, pat, codes, occ, base)
	time.Sleep(2 * time.Millisecond) // let the clock move past the first write
	second := k.create(t.Context(), t, b, pat, codes, occ, base)
	_, u1 := k.get(t, b, first)
	_, u2 := k.get(t, b, second)
	if !u1.Before(u2) {
		t.Fatalf("updated times %v, %v do not increase", u1, u2)
	}
	instant := func(p timerange.Prefix, at time.Time) clinical.Filter {
		lo, hi := timerange.Instant(at)
		return clinical.Filter{Updated: []timerange.Bound{{Prefix: p, Start: lo, End: hi}}}
	}
	mustEqual(t, clinicalSearchIDs(t, b, k, instant(timerange.Ge, u2), "ge second"), []int64{second}, "_lastUpdated=ge second")
	mustEqual(t, clinicalSearchIDs(t, b, k, instant(timerange.Lt, u2), "lt second"), []int64{first}, "_lastUpdated=lt second")
	mustEqual(t, clinicalSearchIDs(t, b, k, instant(timerange.Eq, u1), "eq first"), []int64{first}, "_lastUpdated=eq first")
	mustEqual(t, clinicalSearchIDs(t, b, k, instant(timerange.Gt, u2), "gt second"), []int64(nil), "_lastUpdated=gt second")
	// Updating the first moves it past the second.
	time.Sleep(2 * time.Millisecond)
	k.setCodes(t, b, first, codes)
	mustEqual(t, clinicalSearchIDs(t, b, k, instant(timerange.Gt, u2), "gt second after update"), []int64{first}, "_lastUpdated after an update")
}

func testClinicalSearchIDsPatients(t *testing.T, b Backend, k clinicalSearchKind) {
	p1, p2, _ := clinicalUsers(t, b)
	codes := []clinical.Coding{{System: clinical.SNOMEDSystem, Code: "1"}}
	occ := clinical.Occurrence{DateTime: csAt(csMarch(1, 0))}
	a := k.create(t.Context(), t, b, p1, codes, occ, base)
	c := k.create(t.Context(), t, b, p2, codes, occ, base)
	d := k.create(t.Context(), t, b, p1, codes, occ, base)
	cases := []struct {
		what string
		f    clinical.Filter
		want []int64
	}{
		{"everything", clinical.Filter{}, []int64{a, c, d}},
		{"ids", clinical.Filter{IDs: []int64{d, a, 999999}}, []int64{a, d}},
		{"no ids", clinical.Filter{IDs: []int64{}}, nil},
		{"one patient", clinical.Filter{PatientIDs: []int64{p1}}, []int64{a, d}},
		{"two patients", clinical.Filter{PatientIDs: []int64{p2, p1}}, []int64{a, c, d}},
		{"no patients", clinical.Filter{PatientIDs: []int64{}}, nil},
		{"a patient without a record", clinical.Filter{PatientIDs: []int64{999999}}, nil},
		{"ids and patient", clinical.Filter{IDs: []int64{a, c}, PatientIDs: []int64{p2}}, []int64{c}},
	}
	for _, tc := range cases {
		mustEqual(t, clinicalSearchIDs(t, b, k, tc.f, tc.what), tc.want, tc.what)
	}
}

func testClinicalSearchPaging(t *testing.T, b Backend, k clinicalSearchKind) {
	ctx := t.Context()
	pat, other, _ := clinicalUsers(t, b)
	codes := []clinical.Coding{{System: clinical.SNOMEDSystem, Code: "1"}}
	occ := clinical.Occurrence{DateTime: csAt(csMarch(1, 0))}
	var want []int64
	for i := range 5 {
		want = append(want, k.create(t.Context(), t, b, pat, codes, occ, base))
		if i == 2 {
			k.create(t.Context(), t, b, other, codes, occ, base) // in between, not matching
		}
	}
	f := clinical.Filter{PatientIDs: []int64{pat}}
	var got []int64
	after, pages := "", 0
	for {
		ids, next, err := k.search(ctx, b, f, store.Page{Limit: 2, After: after})
		must(t, err, "page")
		if len(ids) > 2 {
			t.Fatalf("page of %d rows, limit 2", len(ids))
		}
		got = append(got, ids...)
		pages++
		if next == "" {
			break
		}
		after = next
	}
	mustEqual(t, got, want, "every row once, in id order")
	if pages != 3 {
		t.Fatalf("%d pages, want 3", pages)
	}
	// An exact fit has no next page.
	ids, next, err := k.search(ctx, b, f, store.Page{Limit: 5})
	must(t, err, "exact page")
	if len(ids) != 5 || next != "" {
		t.Fatalf("exact page: %d rows, next %q", len(ids), next)
	}
	n, err := k.count(ctx, b, f)
	must(t, err, "count")
	if n != 5 {
		t.Fatalf("count %d, want 5", n)
	}
	n, err = k.count(ctx, b, clinical.Filter{})
	must(t, err, "count all")
	if n != 6 {
		t.Fatalf("count of everyone %d, want 6", n)
	}
	_, _, err = k.search(ctx, b, f, store.Page{After: "not a cursor!"})
	wantKind(t, err, apperr.Invalid, "malformed cursor")
}

func testClinicalSearchDeleted(t *testing.T, b Backend, k clinicalSearchKind) {
	pat, _, _ := clinicalUsers(t, b)
	codes := []clinical.Coding{{System: clinical.SNOMEDSystem, Code: "1"}}
	occ := clinical.Occurrence{DateTime: csAt(csMarch(1, 0))}
	a := k.create(t.Context(), t, b, pat, codes, occ, base)
	c := k.create(t.Context(), t, b, pat, codes, occ, base)
	k.delete(t, b, a)
	for _, f := range []clinical.Filter{
		{},
		{IDs: []int64{a, c}},
		{PatientIDs: []int64{pat}, Codes: [][]clinical.CodeMatch{{{Match: clinical.CodeAnySystem, Code: "1"}}}},
	} {
		mustEqual(t, clinicalSearchIDs(t, b, k, f, "after a delete"), []int64{c}, "deleted row excluded")
	}
}

func testClinicalSearchCodesUpdated(t *testing.T, b Backend, k clinicalSearchKind) {
	pat, _, _ := clinicalUsers(t, b)
	occ := clinical.Occurrence{DateTime: csAt(csMarch(1, 0))}
	a := k.create(t.Context(), t, b, pat, []clinical.Coding{{System: clinical.SNOMEDSystem, Code: "old"}, csLoinc("keep")}, occ, base)
	byCode := func(code string) clinical.Filter {
		return clinical.Filter{Codes: [][]clinical.CodeMatch{{{Match: clinical.CodeAnySystem, Code: code}}}}
	}
	mustEqual(t, clinicalSearchIDs(t, b, k, byCode("old"), "old code"), []int64{a}, "before the update")
	k.setCodes(t, b, a, []clinical.Coding{{System: clinical.SNOMEDSystem, Code: "new"}, csLoinc("keep")})
	mustEqual(t, clinicalSearchIDs(t, b, k, byCode("old"), "old code"), []int64(nil), "old code after the update")
	mustEqual(t, clinicalSearchIDs(t, b, k, byCode("new"), "new code"), []int64{a}, "new code after the update")
	mustEqual(t, clinicalSearchIDs(t, b, k, byCode("keep"), "kept code"), []int64{a}, "kept code after the update")

	// A failed (stale) update leaves the codes as they were.
	version, _ := k.get(t, b, a)
	ctx := t.Context()
	var err error
	if k.needsTime {
		p := getProcedure(t, b, a)
		p.Version, p.Code = version-1, []clinical.Coding{{System: clinical.SNOMEDSystem, Code: "stale"}}
		err = b.Clinical.Procedures().Update(ctx, p)
	} else {
		o := getObservation(t, b, a)
		o.Version, o.Code = version-1, []clinical.Coding{{System: clinical.SNOMEDSystem, Code: "stale"}}
		err = b.Clinical.Observations().Update(ctx, o)
	}
	wantKind(t, err, apperr.Conflict, "stale update")
	mustEqual(t, clinicalSearchIDs(t, b, k, byCode("stale"), "stale code"), []int64(nil), "codes of a refused update")
	mustEqual(t, clinicalSearchIDs(t, b, k, byCode("new"), "new code"), []int64{a}, "codes kept after a refused update")
}

func testClinicalScanFiltered(t *testing.T, b Backend, k clinicalSearchKind) {
	ctx := t.Context()
	pat, other, _ := clinicalUsers(t, b)
	occ := clinical.Occurrence{DateTime: csAt(csMarch(1, 0))}
	// More matching rows than one batch, interleaved with rows that do
	// not match, so the scan must carry its filter across batches.
	const n = 1000
	var want []int64
	must(t, b.Tx.InTx(ctx, func(ctx context.Context) error {
		for i := range n {
			patient, code := pat, "x"
			if i%3 == 0 {
				patient = other
			}
			if i%5 == 0 {
				code = "y"
			}
			id := k.create(ctx, t, b, patient, []clinical.Coding{{System: clinical.SNOMEDSystem, Code: code}}, occ, base)
			if patient == pat && code == "x" {
				want = append(want, id)
			}
		}
		return nil
	}), "create many")
	f := clinical.Filter{PatientIDs: []int64{pat}, Codes: [][]clinical.CodeMatch{{{Match: clinical.CodeAnySystem, Code: "x"}}}}
	scan := func(after int64) []int64 {
		t.Helper()
		var ids []int64
		must(t, k.scan(ctx, b, f, after, func(id int64) error {
			// fn may use the store while the scan runs.
			if _, _, err := k.search(ctx, b, clinical.Filter{IDs: []int64{id}}, store.Page{}); err != nil {
				return err
			}
			ids = append(ids, id)
			return nil
		}), "scan")
		return ids
	}
	if len(want) <= clinicalScanBatchHint {
		t.Fatalf("only %d matching rows: the batching is not exercised", len(want))
	}
	mustEqual(t, scan(0), want, "filtered scan")
	mustEqual(t, scan(want[100]), want[101:], "filtered scan after an id")
	mustEqual(t, scan(want[len(want)-1]), []int64(nil), "filtered scan after the last")
	var none []int64
	must(t, k.scan(ctx, b, clinical.Filter{PatientIDs: []int64{}}, 0, func(id int64) error {
		none = append(none, id)
		return nil
	}), "scan of no patients")
	mustEqual(t, none, []int64(nil), "scan of no patients")

	boom := errors.New("boom")
	calls := 0
	err := k.scan(ctx, b, f, 0, func(int64) error { calls++; return boom })
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("scan returned %v after %d calls, want boom after 1", err, calls)
	}
}

// clinicalScanBatchHint is how many matching rows the scan case needs to
// cross a batch boundary: the SQL store reads 500 rows per batch.
const clinicalScanBatchHint = 500
