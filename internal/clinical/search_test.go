package clinical_test

import (
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/clinical"
	"ward/internal/directory"
	"ward/internal/store"
	"ward/internal/timerange"
)

// TestServiceSearchAccess: a search names its patients and needs View on
// each; only ward itself searches every patient. Each allowed case has its
// denied twin.
func TestServiceSearchAccess(t *testing.T) {
	other := int64(11)
	cases := []struct {
		name   string
		g      grants
		system bool
		f      clinical.Filter
		want   apperr.Kind // 0: allowed
		n      int         // what the allowed search finds
	}{
		{"viewer of the patient", viewer, false, clinical.Filter{PatientIDs: []int64{patient}}, 0, 1},
		{"no grant on the patient", nobody, false, clinical.Filter{PatientIDs: []int64{patient}}, apperr.Forbidden, 0},
		{"edit alone is not view", grants{directory.Edit: {patient}}, false, clinical.Filter{PatientIDs: []int64{patient}}, apperr.Forbidden, 0},
		{"viewer of both patients", grants{directory.View: {patient, other}}, false,
			clinical.Filter{PatientIDs: []int64{patient, other, patient}}, 0, 1},
		{"one patient of two not viewable", viewer, false, clinical.Filter{PatientIDs: []int64{patient, other}}, apperr.Forbidden, 0},
		{"empty patient set needs no grant", nobody, false, clinical.Filter{PatientIDs: []int64{}}, 0, 0},
		{"ward itself searches everyone", nobody, true, clinical.Filter{}, 0, 1},
		{"a user cannot search everyone", viewer, false, clinical.Filter{}, apperr.Forbidden, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, c.g)
			ctx := w.ctx
			if c.system {
				ctx = actor.System(t.Context())
			}
			obs, _, err := w.svc.Observations().Search(ctx, c.f, store.Page{})
			nObs, cerr := w.svc.Observations().CountMatching(ctx, c.f)
			procs, _, perr := w.svc.Procedures().Search(ctx, c.f, store.Page{})
			nProc, pcerr := w.svc.Procedures().CountMatching(ctx, c.f)
			for i, e := range []error{err, cerr, perr, pcerr} {
				if c.want == 0 && e != nil {
					t.Fatalf("call %d: %v", i, e)
				}
				if c.want != 0 && apperr.KindOf(e) != c.want {
					t.Fatalf("call %d: got %v, want %v", i, e, c.want)
				}
			}
			if c.want != 0 {
				return
			}
			if len(obs) != c.n || nObs != c.n || len(procs) != c.n || nProc != c.n {
				t.Fatalf("found %d/%d observations and %d/%d procedures, want %d", len(obs), nObs, len(procs), nProc, c.n)
			}
		})
	}
}

// The service hands the filter on as given: codes and dates narrow the
// search.
func TestServiceSearchPassesFilter(t *testing.T) {
	w := newWorld(t, viewer)
	f := clinical.Filter{PatientIDs: []int64{patient},
		Codes: [][]clinical.CodeMatch{{{Match: clinical.CodeSystemAndCode, System: "http://loinc.org", Code: "8480-6"}}}}
	got, _, err := w.svc.Observations().Search(w.ctx, f, store.Page{})
	if err != nil || len(got) != 1 || got[0].ID != w.obs.ID {
		t.Fatalf("search by code: %v %v", got, err)
	}
	f.Dates = []timerange.Bound{{Prefix: timerange.Lt, Start: fixed.Add(-48 * time.Hour), End: fixed.Add(-47 * time.Hour)}}
	if n, err := w.svc.Observations().CountMatching(w.ctx, f); err != nil || n != 0 {
		t.Fatalf("count before the effective time: %d %v", n, err)
	}
}

func ptr(t time.Time) *time.Time { return &t }

func TestCodeMatch(t *testing.T) {
	loinc := clinical.Coding{System: "http://loinc.org", Code: "1"}
	bare := clinical.Coding{Code: "1"}
	cases := []struct {
		m    clinical.CodeMatch
		c    clinical.Coding
		want bool
	}{
		{clinical.CodeMatch{Match: clinical.CodeAnySystem, Code: "1"}, loinc, true},
		{clinical.CodeMatch{Match: clinical.CodeAnySystem, Code: "1"}, bare, true},
		{clinical.CodeMatch{Match: clinical.CodeAnySystem, Code: "2"}, loinc, false},
		{clinical.CodeMatch{Match: clinical.CodeSystemAndCode, System: "http://loinc.org", Code: "1"}, loinc, true},
		{clinical.CodeMatch{Match: clinical.CodeSystemAndCode, System: "http://loinc.org", Code: "1"}, bare, false},
		{clinical.CodeMatch{Match: clinical.CodeSystemAndCode, System: "http://x", Code: "1"}, loinc, false},
		{clinical.CodeMatch{Match: clinical.CodeNoSystem, Code: "1"}, bare, true},
		{clinical.CodeMatch{Match: clinical.CodeNoSystem, Code: "1"}, loinc, false},
		{clinical.CodeMatch{Match: clinical.CodeSystemOnly, System: "http://loinc.org"}, loinc, true},
		{clinical.CodeMatch{Match: clinical.CodeSystemOnly, System: "http://loinc.org"}, bare, false},
		{clinical.CodeMatch{Code: "1"}, loinc, false}, // no Match: nothing
	}
	for i, c := range cases {
		if got := c.m.Matches(c.c); got != c.want {
			t.Errorf("case %d: %+v matches %+v = %v, want %v", i, c.m, c.c, got, c.want)
		}
	}
}

// The date an observation is searched by is effective, else issued; a
// period's end is inclusive and a missing end is open.
func TestRanges(t *testing.T) {
	at := fixed
	o := &clinical.Observation{Issued: at.Add(time.Hour)}
	if lo, hi := clinical.ObservationRange(o); !lo.Equal(at.Add(time.Hour)) || !hi.Equal(at.Add(time.Hour+time.Microsecond)) {
		t.Fatalf("no effective: [%v, %v)", lo, hi)
	}
	o.Effective = clinical.Occurrence{DateTime: ptr(at)}
	if lo, hi := clinical.ObservationRange(o); !lo.Equal(at) || !hi.Equal(at.Add(time.Microsecond)) {
		t.Fatalf("dateTime: [%v, %v)", lo, hi)
	}
	o.Effective = clinical.Occurrence{End: ptr(at)}
	if lo, hi := clinical.ObservationRange(o); !lo.IsZero() || !hi.Equal(at.Add(time.Microsecond)) {
		t.Fatalf("period without start: [%v, %v)", lo, hi)
	}
	p := &clinical.Procedure{Performed: clinical.Occurrence{Start: ptr(at)}}
	if lo, hi := clinical.ProcedureRange(p); !lo.Equal(at) || !hi.IsZero() {
		t.Fatalf("ongoing procedure: [%v, %v)", lo, hi)
	}
}

func TestFilterNoneMatch(t *testing.T) {
	for _, c := range []struct {
		f    clinical.Filter
		want bool
	}{
		{clinical.Filter{}, false},
		{clinical.Filter{IDs: []int64{}}, true},
		{clinical.Filter{PatientIDs: []int64{}}, true},
		{clinical.Filter{PatientIDs: []int64{1}}, false},
		{clinical.Filter{Codes: [][]clinical.CodeMatch{{{Match: clinical.CodeAnySystem, Code: "x"}}, {}}}, true},
	} {
		if got := c.f.NoneMatch(); got != c.want {
			t.Errorf("%+v: NoneMatch %v, want %v", c.f, got, c.want)
		}
	}
	// A deleted observation never matches, even an empty filter.
	o := &clinical.Observation{ID: 1, Issued: fixed, DeletedAt: ptr(fixed)}
	if (clinical.Filter{}).MatchesObservation(o, fixed) {
		t.Fatal("deleted observation matched")
	}
}
