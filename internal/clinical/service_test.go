package clinical_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/clinical"
	"ward/internal/directory"
	"ward/internal/store"
)

const (
	patient = int64(10)
	staffer = int64(20)
)

func obs() clinical.Observation {
	at := fixed.Add(-time.Hour)
	return clinical.Observation{
		PatientID: patient,
		Status:    clinical.ObsFinal,
		Code:      []clinical.Coding{{System: "http://loinc.org", Code: "8480-6", Display: "Systolic"}},
		Value:     clinical.Value{Kind: clinical.ValueQuantity, Quantity: &clinical.Quantity{Value: "120", Unit: "mmHg"}},
		Effective: clinical.Occurrence{DateTime: &at},
		Issued:    fixed,
	}
}

func proc() clinical.Procedure {
	at := fixed.Add(-24 * time.Hour)
	return clinical.Procedure{
		PatientID: patient,
		Status:    clinical.ProcCompleted,
		Code:      []clinical.Coding{{System: clinical.SNOMEDSystem, Code: "26294005", Display: "Radical prostatectomy"}},
		Performed: clinical.Occurrence{DateTime: &at},
	}
}

type world struct {
	st  *memStore
	log *memAudit
	svc *clinical.Service
	ctx context.Context
	// one stored observation and procedure of patient, created beforehand
	obs  *clinical.Observation
	proc *clinical.Procedure
}

// newWorld wires a Service whose caller holds g, with one observation and
// one procedure of patient already stored.
func newWorld(t *testing.T, g grants) *world {
	t.Helper()
	st := newMemStore()
	log := &memAudit{}
	o, p := obs(), proc()
	o.CreatedBy, p.CreatedBy = staffer, staffer
	if err := st.Observations().Create(t.Context(), &o); err != nil {
		t.Fatal(err)
	}
	if err := st.Procedures().Create(t.Context(), &p); err != nil {
		t.Fatal(err)
	}
	svc := clinical.NewService(clinical.Deps{Store: st, Tx: memTx{st}, Perm: g, Audit: log},
		clinical.Config{Now: func() time.Time { return fixed }})
	ctx := actor.With(t.Context(), actor.Actor{UserID: staffer})
	return &world{st: st, log: log, svc: svc, ctx: ctx, obs: &o, proc: &p}
}

var (
	viewer = grants{directory.View: {patient}}
	editor = grants{directory.View: {patient}, directory.Edit: {patient}}
	nobody = grants{}
)

// TestServicePermissions runs every operation once with the permission it
// needs and once without: a denied case next to every allowed one. A
// denied write changes nothing and audits nothing; an allowed write
// audits once, inside the transaction, about the patient.
func TestServicePermissions(t *testing.T) {
	type op struct {
		name  string
		needs grants // the least that allows it
		lacks grants // the most that still denies it
		write audit.Context
		run   func(w *world) error
	}
	ops := []op{
		{"CreateObservation", editor, viewer, audit.Observation, func(w *world) error {
			_, err := w.svc.Observations().Create(w.ctx, obs())
			return err
		}},
		{"GetObservation", viewer, nobody, "", func(w *world) error {
			_, err := w.svc.Observations().Get(w.ctx, w.obs.ID)
			return err
		}},
		{"UpdateObservation", editor, viewer, audit.Observation, func(w *world) error {
			o := *w.obs
			o.Status = clinical.ObsAmended
			_, err := w.svc.Observations().Update(w.ctx, o)
			return err
		}},
		{"DeleteObservation", editor, viewer, audit.Observation, func(w *world) error {
			return w.svc.Observations().Delete(w.ctx, w.obs.ID, w.obs.Version)
		}},
		{"ListObservations", viewer, nobody, "", func(w *world) error {
			l, _, err := w.svc.Observations().List(w.ctx, patient, store.Page{})
			if err == nil && len(l) != 1 {
				return errors.New("listed the wrong observations")
			}
			return err
		}},
		{"CountObservations", viewer, nobody, "", func(w *world) error {
			n, err := w.svc.Observations().Count(w.ctx, patient)
			if err == nil && n != 1 {
				return errors.New("wrong count")
			}
			return err
		}},
		{"CreateProcedure", editor, viewer, audit.Procedure, func(w *world) error {
			_, err := w.svc.Procedures().Create(w.ctx, proc())
			return err
		}},
		{"GetProcedure", viewer, nobody, "", func(w *world) error {
			_, err := w.svc.Procedures().Get(w.ctx, w.proc.ID)
			return err
		}},
		{"UpdateProcedure", editor, viewer, audit.Procedure, func(w *world) error {
			p := *w.proc
			p.Status = clinical.ProcEnteredInError
			_, err := w.svc.Procedures().Update(w.ctx, p)
			return err
		}},
		{"DeleteProcedure", editor, viewer, audit.Procedure, func(w *world) error {
			return w.svc.Procedures().Delete(w.ctx, w.proc.ID, w.proc.Version)
		}},
		{"ListProcedures", viewer, nobody, "", func(w *world) error {
			l, _, err := w.svc.Procedures().List(w.ctx, patient, store.Page{})
			if err == nil && len(l) != 1 {
				return errors.New("listed the wrong procedures")
			}
			return err
		}},
		{"CountProcedures", viewer, nobody, "", func(w *world) error {
			n, err := w.svc.Procedures().Count(w.ctx, patient)
			if err == nil && n != 1 {
				return errors.New("wrong count")
			}
			return err
		}},
	}
	for _, o := range ops {
		t.Run(o.name+"/allowed", func(t *testing.T) {
			w := newWorld(t, o.needs)
			if err := o.run(w); err != nil {
				t.Fatalf("allowed call failed: %v", err)
			}
			if o.write == "" {
				if len(w.log.events) != 0 {
					t.Fatalf("a read audited %v", w.log.events)
				}
				return
			}
			if len(w.log.events) != 1 {
				t.Fatalf("write audited %d events, want 1", len(w.log.events))
			}
			e := w.log.events[0]
			if e.ctx != o.write || e.subject != patient || !e.inTx {
				t.Fatalf("audit event %+v: want context %s about patient %d inside the transaction", e, o.write, patient)
			}
		})
		t.Run(o.name+"/denied", func(t *testing.T) {
			w := newWorld(t, o.lacks)
			before := w.st.snapshot()
			err := o.run(w)
			if !apperr.Is(err, apperr.Forbidden) {
				t.Fatalf("denied call returned %v, want forbidden", err)
			}
			if len(w.log.events) != 0 {
				t.Fatalf("denied call audited %v", w.log.events)
			}
			if len(w.st.obs) != len(before.obs) || len(w.st.proc) != len(before.proc) ||
				w.st.obs[w.obs.ID].Version != 1 || w.st.proc[w.proc.ID].Version != 1 {
				t.Fatal("denied call changed the store")
			}
		})
	}
}

func TestCreateObservationRecordsWhoAndWhat(t *testing.T) {
	w := newWorld(t, editor)
	in := obs()
	in.Issued = time.Time{}
	in.CreatedBy, in.Version, in.ID = 999, 7, 55 // ignored
	got, err := w.svc.Observations().Create(w.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedBy != staffer || got.Version != 1 || got.ID == 55 || !got.Issued.Equal(fixed) {
		t.Fatalf("created %+v: want recorder %d, version 1, a new id, issued now", got, staffer)
	}
	c := w.log.events[0].comment
	if !strings.Contains(c, "observation "+itoa(got.ID)) || !strings.Contains(c, "8480-6") {
		t.Fatalf("audit comment %q does not name the observation and its code", c)
	}
}

func TestUpdateAuditsWhatChanged(t *testing.T) {
	w := newWorld(t, editor)
	o := *w.obs
	o.Status = clinical.ObsCorrected
	o.Value = clinical.Value{Kind: clinical.ValueInteger, Integer: 3}
	got, err := w.svc.Observations().Update(w.ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.CreatedBy != staffer {
		t.Fatalf("updated %+v", got)
	}
	c := w.log.events[0].comment
	if !strings.Contains(c, "observation "+itoa(o.ID)) || !strings.Contains(c, "status, value") ||
		strings.Contains(c, "code") {
		t.Fatalf("audit comment %q should name the observation and exactly status, value", c)
	}

	p := *w.proc
	p.PerformerID = 77
	if _, err := w.svc.Procedures().Update(w.ctx, p); err != nil {
		t.Fatal(err)
	}
	if c := w.log.events[1].comment; !strings.Contains(c, "procedure "+itoa(p.ID)) || !strings.HasSuffix(c, ": performerid") {
		t.Fatalf("audit comment %q should name the procedure and performerid", c)
	}
}

func TestStaleAndMissing(t *testing.T) {
	w := newWorld(t, editor)
	o := *w.obs
	o.Version = 9
	_, err := w.svc.Observations().Update(w.ctx, o)
	if !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("stale update: %v, want conflict", err)
	}
	if err := w.svc.Procedures().Delete(w.ctx, w.proc.ID, 9); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("stale delete: %v, want conflict", err)
	}
	if _, err := w.svc.Observations().Get(w.ctx, 12345); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("missing observation: %v, want not found", err)
	}
	if _, err := w.svc.Procedures().Get(w.ctx, 0); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("id 0: %v, want invalid", err)
	}
	// A deleted observation is gone for readers and writers.
	if err := w.svc.Observations().Delete(w.ctx, w.obs.ID, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Observations().Get(w.ctx, w.obs.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("deleted observation: %v, want not found", err)
	}
	if err := w.svc.Observations().Delete(w.ctx, w.obs.ID, 2); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("second delete: %v, want not found", err)
	}
	if len(w.log.events) != 1 {
		t.Fatalf("%d audit events, want only the one delete", len(w.log.events))
	}
}

func TestPatientCannotMove(t *testing.T) {
	w := newWorld(t, grants{directory.View: {patient, 11}, directory.Edit: {patient, 11}})
	o := *w.obs
	o.PatientID = 11
	if _, err := w.svc.Observations().Update(w.ctx, o); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("moving an observation: %v, want invalid", err)
	}
	p := *w.proc
	p.PatientID = 11
	if _, err := w.svc.Procedures().Update(w.ctx, p); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("moving a procedure: %v, want invalid", err)
	}
}

// A failed audit write rolls the change back: the change and its event
// commit together or not at all.
func TestAuditFailureRollsBack(t *testing.T) {
	w := newWorld(t, editor)
	w.log.fail = errors.New("disk full")
	if _, err := w.svc.Observations().Create(w.ctx, obs()); err == nil {
		t.Fatal("create succeeded without its audit event")
	}
	if _, err := w.svc.Procedures().Create(w.ctx, proc()); err == nil {
		t.Fatal("create succeeded without its audit event")
	}
	if err := w.svc.Observations().Delete(w.ctx, w.obs.ID, 1); err == nil {
		t.Fatal("delete succeeded without its audit event")
	}
	if len(w.st.obs) != 1 || len(w.st.proc) != 1 || w.st.obs[w.obs.ID].DeletedAt != nil {
		t.Fatal("a change without its audit event was kept")
	}
}

func TestInvalidInputIsRefusedBeforeWriting(t *testing.T) {
	w := newWorld(t, editor)
	bad := obs()
	bad.Status = "done"
	if _, err := w.svc.Observations().Create(w.ctx, bad); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("bad observation: %v, want invalid", err)
	}
	badP := proc()
	badP.Code = []clinical.Coding{{System: "http://loinc.org", Code: "x"}}
	if _, err := w.svc.Procedures().Create(w.ctx, badP); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("non-SNOMED procedure: %v, want invalid", err)
	}
	if len(w.st.obs) != 1 || len(w.st.proc) != 1 || len(w.log.events) != 0 {
		t.Fatal("invalid input was written or audited")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
