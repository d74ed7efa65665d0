// Package bulksource is what Bulk Data export reads: it implements
// bulk.Source over the directory, clinical and document stores, mapping
// each record to its FHIR resource as the REST interface does. Export
// access is decided before a job starts (internal/bulk/access.go), so the
// source reads as ward itself.
package bulksource

import (
	"context"
	"fmt"
	"slices"
	"time"

	"ward/internal/actor"
	"ward/internal/bulk"
	"ward/internal/clinical"
	"ward/internal/directory"
	"ward/internal/document"
	"ward/internal/fhir"
	"ward/internal/fhir/search"
	"ward/internal/store"
	"ward/internal/timerange"
)

// Directory is the directory as the export reads it.
type Directory interface {
	ScanPatients(ctx context.Context, f directory.UserFilter, afterID int64, fn func(*directory.User) error) error
	UserIdentifiersFor(ctx context.Context, ids []int64) (map[int64][]directory.Identifier, error)
	UserOrganizationsFor(ctx context.Context, ids []int64) (map[int64][]int64, error)
	ListOrganizations(ctx context.Context, p store.Page) ([]*directory.Organization, string, error)
}

// Clinical is the clinical record's store; the export runs its filtered
// scans (Records.ScanFiltered).
type Clinical interface {
	Observations() clinical.Records[clinical.Observation]
	Procedures() clinical.Records[clinical.Procedure]
}

// Documents is the document store's export scan.
type Documents interface {
	ScanDocuments(ctx context.Context, f document.Filter, afterID int64, fn func(*document.Document) error) error
}

// Source is bulk.Source over ward's stores.
type Source struct {
	dir  Directory
	clin Clinical
	docs Documents
	// base is the FHIR base URL references in exported resources point
	// under, so a consumer can follow them back.
	base string
}

// New returns the export source.
func New(dir Directory, clin Clinical, docs Documents, base string) *Source {
	return &Source{dir: dir, clin: clin, docs: docs, base: base}
}

var _ bulk.Source = (*Source)(nil)

// types are the exportable types in export order: patients first, so a
// consumer loading files in manifest order meets referenced patients first.
var types = []string{"Patient", "Observation", "Procedure", "DocumentReference", "Organization"}

// Types implements bulk.Source.
func (s *Source) Types() []string { return slices.Clone(types) }

// InPatientCompartment implements bulk.Source.
func (s *Source) InPatientCompartment(typ string) bool { return typ != "Organization" }

// patientBatch is how many patients are mapped together, so identifiers
// and organizations cost two queries per batch, not two per patient.
const patientBatch = 500

// Scan implements bulk.Source.
func (s *Source) Scan(ctx context.Context, typ string, q bulk.Query, afterKey int64, fn func(key int64, resource any) error) error {
	ctx = actor.System(ctx)
	updated := updatedBounds(q)
	switch typ {
	case "Patient":
		filters, err := each(q.Filters, func(sq search.Query) (directory.UserFilter, error) {
			f, err := fhir.PatientFilter(sq)
			if err != nil {
				return f, err
			}
			f.IDs = fhir.IntersectIDs(f.IDs, q.Patients)
			f.Updated = append(f.Updated, updated...)
			return f, nil
		}, directory.UserFilter{IDs: q.Patients, Updated: updated})
		if err != nil {
			return err
		}
		return merge(ctx, afterKey, filters, func(ctx context.Context, f directory.UserFilter, after int64, emit func(int64, any) error) error {
			return s.scanPatients(ctx, f, after, emit)
		}, fn)
	case "Observation", "Procedure":
		filters, err := each(q.Filters, func(sq search.Query) (clinical.Filter, error) {
			f, err := fhir.ClinicalFilter(sq)
			if err != nil {
				return f, err
			}
			f.PatientIDs = fhir.IntersectIDs(f.PatientIDs, q.Patients)
			f.Updated = append(f.Updated, updated...)
			return f, nil
		}, clinical.Filter{PatientIDs: q.Patients, Updated: updated})
		if err != nil {
			return err
		}
		return merge(ctx, afterKey, filters, func(ctx context.Context, f clinical.Filter, after int64, emit func(int64, any) error) error {
			if typ == "Observation" {
				return s.clin.Observations().ScanFiltered(ctx, f, after, func(o *clinical.Observation) error {
					return emit(o.ID, fhir.ObservationFromClinical(o, s.base))
				})
			}
			return s.clin.Procedures().ScanFiltered(ctx, f, after, func(p *clinical.Procedure) error {
				return emit(p.ID, fhir.ProcedureFromClinical(p, s.base))
			})
		}, fn)
	case "DocumentReference":
		filters, err := each(q.Filters, func(sq search.Query) (document.Filter, error) {
			f, err := fhir.DocumentFilter(sq)
			if err != nil {
				return f, err
			}
			f.PatientIDs = fhir.IntersectIDs(f.PatientIDs, q.Patients)
			f.Updated = append(f.Updated, updated...)
			return f, nil
		}, document.Filter{PatientIDs: q.Patients, Updated: updated})
		if err != nil {
			return err
		}
		return merge(ctx, afterKey, filters, func(ctx context.Context, f document.Filter, after int64, emit func(int64, any) error) error {
			return s.docs.ScanDocuments(ctx, f, after, func(d *document.Document) error {
				return emit(d.ID, fhir.DocumentReferenceFromDocument(d, s.base))
			})
		}, fn)
	case "Organization":
		return s.scanOrganizations(ctx, q, afterKey, fn)
	}
	return fmt.Errorf("bulksource: type %q is not exportable", typ)
}

// updatedBounds is the export's window on last change: after Since, at or
// before Until, as stored instants.
func updatedBounds(q bulk.Query) []timerange.Bound {
	var out []timerange.Bound
	if !q.Since.IsZero() {
		// "sa" (starts after) of the microsecond after Since: changed
		// strictly after it.
		s := q.Since.Add(time.Microsecond)
		out = append(out, timerange.Bound{Prefix: timerange.Sa, Start: s, End: s})
	}
	if !q.Until.IsZero() {
		// "eb" (ends before) of the microsecond after Until: changed at
		// or before it.
		u := q.Until.Add(time.Microsecond)
		out = append(out, timerange.Bound{Prefix: timerange.Eb, Start: u, End: u.Add(time.Microsecond)})
	}
	return out
}

// scanPatients maps patients in batches, looking identifiers and
// organizations up once per batch.
func (s *Source) scanPatients(ctx context.Context, f directory.UserFilter, after int64, emit func(int64, any) error) error {
	batch := make([]*directory.User, 0, patientBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		ids := make([]int64, len(batch))
		for i, u := range batch {
			ids[i] = u.ID
		}
		idents, err := s.dir.UserIdentifiersFor(ctx, ids)
		if err != nil {
			return err
		}
		orgs, err := s.dir.UserOrganizationsFor(ctx, ids)
		if err != nil {
			return err
		}
		for _, u := range batch {
			if err := emit(u.ID, fhir.PatientFromUser(u, idents[u.ID], orgs[u.ID], s.base)); err != nil {
				return err
			}
		}
		batch = batch[:0]
		return nil
	}
	err := s.dir.ScanPatients(ctx, f, after, func(u *directory.User) error {
		batch = append(batch, u)
		if len(batch) == patientBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// scanOrganizations pages through the organization list; organizations
// are reference data, exported whole (filters other than _lastUpdated do
// not apply to them).
func (s *Source) scanOrganizations(ctx context.Context, q bulk.Query, after int64, fn func(int64, any) error) error {
	bounds := updatedBounds(q)
	cursor := store.EncodeCursor(after)
	if after == 0 {
		cursor = ""
	}
	for {
		orgs, next, err := s.dir.ListOrganizations(ctx, store.Page{Limit: store.MaxLimit, After: cursor})
		if err != nil {
			return err
		}
		for _, o := range orgs {
			lo, hi := timerange.Instant(o.UpdatedAt)
			keep := true
			for _, b := range bounds {
				keep = keep && b.Matches(lo, hi, o.UpdatedAt)
			}
			if !keep {
				continue
			}
			if err := fn(o.ID, fhir.OrganizationFromDirectory(o, s.base)); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

// each builds one domain filter per _typeFilter query, or the base filter
// alone when there are none.
func each[F any](qs []search.Query, build func(search.Query) (F, error), base F) ([]F, error) {
	if len(qs) == 0 {
		return []F{base}, nil
	}
	out := make([]F, 0, len(qs))
	for _, q := range qs {
		f, err := build(q)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}
