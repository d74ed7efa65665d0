package bulk_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"ward/internal/apperr"
	"ward/internal/bulk"
	"ward/internal/fhir/search"
)

// item is one resource of the fake source.
type item struct {
	key     int64
	id      string
	patient int64 // compartment owner; 0 for none
	updated time.Time
	code    string // matched by the code token parameter
}

// fakeSource is an in-memory bulk.Source. It can be told to fail after a
// number of resources (a crash mid-export) and understands two filter
// parameters: _id and code; any other is refused as apperr.Invalid, which
// the export reports in an error file.
type fakeSource struct {
	mu    sync.Mutex
	items map[string][]item // by type, ascending key
	// failAfter, when positive, makes the scan fail with an internal error
	// once that many more resources have been handed out.
	failAfter int
	// failErr, when set, is the error failAfter fails with.
	failErr error
	// alwaysFail makes every scan fail with an internal error.
	alwaysFail bool
	// gate, when set, is waited on before each resource: it lets a test
	// hold an export in progress.
	gate chan struct{}
	// delay is waited before each resource, so an export outlasts a short
	// slice.
	delay time.Duration
}

var fakeTypes = []string{"Patient", "Organization", "Observation"}

func (f *fakeSource) Types() []string { return slices.Clone(fakeTypes) }

func (f *fakeSource) InPatientCompartment(typ string) bool {
	return typ == "Patient" || typ == "Observation"
}

// add appends n resources of typ for patient, updated at updated.
func (f *fakeSource) add(typ string, n int, patient int64, updated time.Time, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.items == nil {
		f.items = map[string][]item{}
	}
	for range n {
		key := int64(len(f.items[typ])+1) * 10
		id := strconv.FormatInt(key, 10)
		if typ == "Patient" {
			id = strconv.FormatInt(patient, 10)
		}
		f.items[typ] = append(f.items[typ], item{key: key, id: id, patient: patient, updated: updated, code: code})
	}
}

func (f *fakeSource) resource(typ string, it item) map[string]any {
	r := map[string]any{
		"resourceType": typ,
		"id":           it.id,
		"meta":         map[string]any{"lastUpdated": it.updated.UTC().Format(time.RFC3339Nano)},
	}
	switch typ {
	case "Observation":
		r["status"] = "final"
		r["code"] = map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": it.code}}}
		r["subject"] = map[string]any{"reference": fmt.Sprintf("Patient/%d", it.patient)}
	case "Organization":
		r["name"] = "Org " + it.id + " <&>"
	}
	return r
}

func matches(typ string, it item, q search.Query) (bool, error) {
	for _, c := range q.Clauses {
		ok := false
		switch c.Param {
		case "_id":
			for _, tok := range c.Tokens {
				ok = ok || tok.Code == it.id
			}
		case "code":
			for _, tok := range c.Tokens {
				ok = ok || tok.Code == it.code
			}
		default:
			return false, apperr.New(apperr.Invalid, "the fake source cannot filter %s on %s", typ, c.Param)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

func (f *fakeSource) Scan(ctx context.Context, typ string, q bulk.Query, afterKey int64, fn func(int64, any) error) error {
	f.mu.Lock()
	items := slices.Clone(f.items[typ])
	alwaysFail, gate, delay := f.alwaysFail, f.gate, f.delay
	f.mu.Unlock()
	if alwaysFail {
		return fmt.Errorf("fake source: broken")
	}
	for _, it := range items {
		if it.key <= afterKey {
			continue
		}
		if !q.Since.IsZero() && !it.updated.After(q.Since) {
			continue
		}
		if !q.Until.IsZero() && it.updated.After(q.Until) {
			continue
		}
		if q.Patients != nil && (it.patient == 0 || !slices.Contains(q.Patients, it.patient)) {
			continue
		}
		if q.Filters != nil {
			any := false
			for _, fq := range q.Filters {
				ok, err := matches(typ, it, fq)
				if err != nil {
					return err
				}
				any = any || ok
			}
			if !any {
				continue
			}
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		f.mu.Lock()
		if f.failAfter > 0 {
			f.failAfter--
			if f.failAfter == 0 {
				ferr := f.failErr
				f.mu.Unlock()
				if ferr != nil {
					return ferr
				}
				return fmt.Errorf("fake source: crashed")
			}
		}
		f.mu.Unlock()
		if err := fn(it.key, f.resource(typ, it)); err != nil {
			return err
		}
	}
	return nil
}

// want lists the ids of typ the source would export for q, for comparing.
func (f *fakeSource) want(typ string, since time.Time, patients []int64, code string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, it := range f.items[typ] {
		if !since.IsZero() && !it.updated.After(since) {
			continue
		}
		if patients != nil && !slices.Contains(patients, it.patient) {
			continue
		}
		if code != "" && it.code != code {
			continue
		}
		out = append(out, it.id)
	}
	return out
}

// fakeGroups maps group ids to members.
type fakeGroups map[string][]int64

func (g fakeGroups) GroupMembers(_ context.Context, id string) ([]int64, error) {
	m, ok := g[id]
	if !ok {
		return nil, apperr.New(apperr.NotFound, "group %s not found", id)
	}
	return slices.Clone(m), nil
}
