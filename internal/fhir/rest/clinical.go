package rest

import (
	"context"
	"time"

	"ward/internal/apperr"
	"ward/internal/clinical"
	"ward/internal/fhir"
	"ward/internal/fhir/policy"
	"ward/internal/fhir/search"
	"ward/internal/store"
)

// Clinical is what the FHIR interface reads and writes of the clinical
// record. It is called as ward itself, after the policy has decided.
type Clinical interface {
	Observations() *clinical.Kind[clinical.Observation]
	Procedures() *clinical.Kind[clinical.Procedure]
}

// record is one clinical record type seen generically: Observation and
// Procedure differ in their structs and mapping, not in how REST serves them.
type record[T any] struct {
	name   string
	get    func(ctx context.Context, id int64) (*T, error)
	search func(ctx context.Context, f clinical.Filter, p store.Page) ([]*T, string, error)
	count  func(ctx context.Context, f clinical.Filter) (int, error)
	create func(ctx context.Context, v T) (*T, error)
	update func(ctx context.Context, v T) (*T, error)
	// render maps a domain record to its FHIR resource.
	render func(v *T) any
	// decode reads a FHIR body into a domain record and the body's id.
	decode func(body []byte) (*T, string, error)
	// keys reads the bookkeeping fields; setKeys writes id and version.
	keys    func(v *T) (id, patient, version int64, updated time.Time)
	setKeys func(v *T, id, patient, version int64)
}

func (rec record[T]) found(v *T) *found {
	id, patient, version, updated := rec.keys(v)
	return &found{resource: rec.render(v), id: formatID(id), version: version, updated: updated, patients: []int64{patient}}
}

// recordType serves a clinical record type: read, search, create and
// update, each decided by the policy on the record's patient.
func recordType[T any](h *Handler, rec record[T], doc string) *resourceType {
	return &resourceType{
		name:          rec.name,
		documentation: doc,
		read: func(ctx context.Context, g policy.Grant, raw string) (*found, error) {
			v, err := getRecord(ctx, rec, raw)
			if err != nil {
				return nil, err
			}
			return rec.found(v), nil
		},
		search: func(ctx context.Context, g policy.Grant, q search.Query) (*page, error) {
			f, err := fhir.ClinicalFilter(q)
			if err != nil {
				return nil, err
			}
			if f.PatientIDs, err = h.d.Policy.Patients(ctx, g, f.PatientIDs); err != nil {
				return nil, err
			}
			f.Now = h.d.Now()
			wctx := asWard(ctx)
			n, err := rec.count(wctx, f)
			if err != nil {
				return nil, err
			}
			p := &page{total: intPtr(n)}
			if q.Summary == search.SummaryCount || f.NoneMatch() {
				return p, nil
			}
			vs, next, err := rec.search(wctx, f, store.Page{Limit: q.Count, After: q.Cursor})
			if err != nil {
				return nil, err
			}
			for _, v := range vs {
				_, patient, _, _ := rec.keys(v)
				p.resources = append(p.resources, rec.render(v))
				p.patients = append(p.patients, patient)
			}
			p.next = next
			return p, nil
		},
		create: func(ctx context.Context, g policy.Grant, body []byte) (*found, error) {
			v, _, err := rec.decode(body)
			if err != nil {
				return nil, err
			}
			_, patient, _, _ := rec.keys(v)
			// Creating in a compartment the caller cannot reach is refused
			// like a read of it: the patient is not known to exist.
			if err := h.d.Policy.PatientAccess(ctx, g, patient, policy.Create); err != nil {
				return nil, err
			}
			out, err := rec.create(asWard(ctx), *v)
			if err != nil {
				return nil, err
			}
			return rec.found(out), nil
		},
		update: func(ctx context.Context, g policy.Grant, raw string, version int64, body []byte) (*found, error) {
			v, bodyID, err := rec.decode(body)
			if err != nil {
				return nil, err
			}
			if err := checkBodyID(rec.name, raw, bodyID); err != nil {
				return nil, err
			}
			cur, err := getRecord(ctx, rec, raw)
			if err != nil {
				return nil, err
			}
			id, patient, curVersion, _ := rec.keys(cur)
			if err := h.d.Policy.PatientAccess(ctx, g, patient, policy.Update); err != nil {
				return nil, err
			}
			_, newPatient, _, _ := rec.keys(v)
			if newPatient != patient {
				return nil, apperr.New(apperr.Invalid, "%s.subject cannot change on update (it is Patient/%d)", rec.name, patient)
			}
			if version == 0 {
				version = curVersion
			}
			rec.setKeys(v, id, patient, version)
			out, err := rec.update(asWard(ctx), *v)
			if err != nil {
				return nil, err
			}
			return rec.found(out), nil
		},
	}
}

// getRecord loads a live record by its URL id, as ward (the caller checks
// access on its patient).
func getRecord[T any](ctx context.Context, rec record[T], raw string) (*T, error) {
	id, err := parseID(rec.name, raw)
	if err != nil {
		return nil, err
	}
	v, err := rec.get(asWard(ctx), id)
	if err != nil {
		return nil, notFoundAs(rec.name, id, err)
	}
	return v, nil
}

// recordKeys reads a clinical record's id, patient, version and last
// change, for record.keys.
func recordKeys[T any, P clinical.Record[T]](r *T) (int64, int64, int64, time.Time) {
	h := P(r).Head()
	return *h.ID, *h.PatientID, *h.Version, *h.UpdatedAt
}

// setRecordKeys sets a clinical record's id, patient and version, for
// record.setKeys.
func setRecordKeys[T any, P clinical.Record[T]](r *T, id, patient, version int64) {
	h := P(r).Head()
	*h.ID, *h.PatientID, *h.Version = id, patient, version
}

func (h *Handler) observationType() *resourceType {
	c := h.d.Clinical.Observations()
	return recordType(h, record[clinical.Observation]{
		name: "Observation", get: c.Get, search: c.Search, count: c.CountMatching, create: c.Create, update: c.Update,
		render: func(o *clinical.Observation) any { return fhir.ObservationFromClinical(o, h.d.Base) },
		decode: func(body []byte) (*clinical.Observation, string, error) {
			r, err := fhir.DecodeObservation(body)
			if err != nil {
				return nil, "", err
			}
			o, err := fhir.ToClinicalObservation(r, h.d.Base)
			return o, r.ID, err
		},
		keys: recordKeys[clinical.Observation], setKeys: setRecordKeys[clinical.Observation],
	}, "Observations with a coded concept, a value, a status and issued; each change is audited.")
}

func (h *Handler) procedureType() *resourceType {
	c := h.d.Clinical.Procedures()
	return recordType(h, record[clinical.Procedure]{
		name: "Procedure", get: c.Get, search: c.Search, count: c.CountMatching, create: c.Create, update: c.Update,
		render: func(p *clinical.Procedure) any { return fhir.ProcedureFromClinical(p, h.d.Base) },
		decode: func(body []byte) (*clinical.Procedure, string, error) {
			r, err := fhir.DecodeProcedure(body)
			if err != nil {
				return nil, "", err
			}
			p, err := fhir.ToClinicalProcedure(r, h.d.Base)
			return p, r.ID, err
		},
		keys: recordKeys[clinical.Procedure], setKeys: setRecordKeys[clinical.Procedure],
	}, "Procedures coded in SNOMED CT, performed at a date-time or over a period; each change is audited.")
}
