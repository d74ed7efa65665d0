package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/clinical"
	"ward/internal/directory"
	"ward/internal/sqlstore"
)

// The seeded population. Names, birth dates and observation codes cycle
// through small lists, so a search's selectivity is known: a given-name
// prefix keeps one patient in len(givenNames), a birth year one in 80.
var (
	givenNames  = []string{"Alice", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kofi", "Lena", "Marta", "Nils", "Olga", "Pedro"}
	familyNames = []string{"Anders", "Baker", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ivanova", "Jensen", "Kowalski", "Larsen"}
	obsCodes    = []clinical.Coding{
		{System: "http://loinc.org", Code: "8867-4", Display: "Heart rate"},
		{System: "http://loinc.org", Code: "8310-5", Display: "Body temperature"},
		{System: "http://loinc.org", Code: "29463-7", Display: "Body weight"},
		{System: "http://loinc.org", Code: "8302-2", Display: "Body height"},
		{System: "http://loinc.org", Code: "2339-0", Display: "Glucose"},
	}
	obsUnits    = []string{"/min", "Cel", "kg", "cm", "mg/dL"}
	vitalSigns  = []clinical.Coding{{System: "http://terminology.hl7.org/CodeSystem/observation-category", Code: "vital-signs", Display: "Vital Signs"}}
	seedEpoch   = time.Date(2020, 1, 1, 8, 0, 0, 0, time.UTC)
	mrnSystem   = "urn:oid:2.16.840.1.113883.19.5"
	seedPerTxn  = 1000 // patients per seeding transaction
	seedPerStmt = 1000 // observation rows per multi-row INSERT
)

// seedPatient is the i-th seeded patient (i from 0), without an id.
func seedPatient(i int) *directory.User {
	return &directory.User{
		GivenName:  givenNames[i%len(givenNames)],
		FamilyName: familyNames[(i/len(givenNames))%len(familyNames)],
		BirthDate:  fmt.Sprintf("%04d-%02d-%02d", 1930+i%80, 1+i%12, 1+i%28),
		Gender:     []string{"female", "male"}[i%2],
		Phone:      fmt.Sprintf("+1-555-%07d", i),
		Locale:     "en-US",
	}
}

// seedIdentifier is the i-th patient's medical record number.
func seedIdentifier(i int) directory.Identifier {
	return directory.Identifier{System: mrnSystem, Value: "MRN-" + strconv.Itoa(i), Use: "official"}
}

// seedObservation is observation j of a patient: a vital sign with a
// quantity, taken j days after seedEpoch.
func seedObservation(patientID int64, j int) *clinical.Observation {
	at := seedEpoch.Add(time.Duration(j) * 24 * time.Hour)
	k := j % len(obsCodes)
	return &clinical.Observation{
		PatientID: patientID, Status: clinical.ObsFinal,
		Code: []clinical.Coding{obsCodes[k]}, Category: vitalSigns,
		Value: clinical.Value{Kind: clinical.ValueQuantity, Quantity: &clinical.Quantity{
			Value: strconv.Itoa(60 + j%40), Unit: obsUnits[k], System: "http://unitsofmeasure.org", Code: obsUnits[k]}},
		Effective: clinical.Occurrence{DateTime: &at}, Issued: at,
	}
}

// seeded says what seed wrote.
type seeded struct {
	patients, observations int
	patientIDs             []int64
}

// seed writes patients patients with perPatient observations each. Patients
// go through the store's own methods (user, role, identifier), many to a
// transaction; observations, ten times as many, are multi-row INSERTs in
// the same transaction, with their codings side table filled by one
// INSERT ... SELECT per code. It is a fixture, not what is measured.
func seed(b *testing.B, db *sqlstore.DB, patients, perPatient int) seeded {
	b.Helper()
	ctx := actor.System(context.Background())
	start := time.Now()
	out := seeded{patients: patients, observations: patients * perPatient, patientIDs: make([]int64, 0, patients)}
	for lo := 0; lo < patients; lo += seedPerTxn {
		hi := min(lo+seedPerTxn, patients)
		err := db.InTx(ctx, func(ctx context.Context) error {
			ids := make([]int64, 0, hi-lo)
			for i := lo; i < hi; i++ {
				u := seedPatient(i)
				if err := db.CreateUser(ctx, u); err != nil {
					return err
				}
				if err := db.SetUserRoles(ctx, u.ID, []string{directory.RolePatient}); err != nil {
					return err
				}
				if err := db.AddUserIdentifier(ctx, u.ID, seedIdentifier(i), false); err != nil {
					return err
				}
				ids = append(ids, u.ID)
			}
			if perPatient > 0 {
				if err := insertObservations(ctx, db, ids, perPatient); err != nil {
					return err
				}
			}
			out.patientIDs = append(out.patientIDs, ids...)
			return nil
		})
		if err != nil {
			b.Fatalf("seed patients %d-%d: %v", lo, hi, err)
		}
	}
	if db.Dialect() == sqlstore.Postgres {
		// What autovacuum would have done by the time a real database
		// holds this much: statistics for the planner and the visibility
		// map, so the first measured queries do not run beside it.
		if _, err := db.Writer().ExecContext(ctx, `VACUUM (ANALYZE) users, user_roles, user_identifiers, observations, observation_codes`); err != nil {
			b.Fatalf("vacuum: %v", err)
		}
		if _, err := db.Writer().ExecContext(ctx, `CHECKPOINT`); err != nil {
			b.Fatalf("checkpoint: %v", err)
		}
	}
	b.Logf("seeded %d patients, %d observations on %s in %s", out.patients, out.observations, db.Dialect(), time.Since(start).Round(time.Millisecond))
	return out
}

// insertObservations writes perPatient observations for each of ids in the
// transaction ctx carries.
func insertObservations(ctx context.Context, db *sqlstore.DB, ids []int64, perPatient int) error {
	tx := db.Tx(ctx)
	var firstID int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM observations`).Scan(&firstID); err != nil {
		return fmt.Errorf("max observation id: %w", err)
	}
	updated := time.Now().Add(-time.Second).UnixMicro()
	const cols = 8
	var sb strings.Builder
	args := make([]any, 0, seedPerStmt*cols)
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO observations (patient_id, status, code, category, value,
			effective_at, issued, updated_at, version) VALUES `+sb.String(), args...)
		sb.Reset()
		args, n = args[:0], 0
		return err
	}
	for _, pid := range ids {
		for j := range perPatient {
			o := seedObservation(pid, j)
			code, _ := json.Marshal(o.Code)
			cat, _ := json.Marshal(o.Category)
			val, _ := json.Marshal(o.Value)
			if n > 0 {
				sb.WriteString(", ")
			}
			sb.WriteByte('(')
			for c := range cols {
				if c > 0 {
					sb.WriteString(", ")
				}
				if db.Dialect() == sqlstore.Postgres {
					sb.WriteString("$" + strconv.Itoa(len(args)+c+1))
				} else {
					sb.WriteByte('?')
				}
			}
			sb.WriteString(", 1)")
			args = append(args, pid, o.Status, string(code), string(cat), string(val),
				o.Effective.DateTime.UnixMicro(), o.Issued.UnixMicro(), updated)
			if n++; n == seedPerStmt {
				if err := flush(); err != nil {
					return fmt.Errorf("insert observations: %w", err)
				}
			}
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("insert observations: %w", err)
	}
	// Each seeded observation has exactly one coding, one of obsCodes.
	for _, c := range obsCodes {
		code, _ := json.Marshal([]clinical.Coding{c})
		q := `INSERT INTO observation_codes (observation_id, system, code)
			SELECT id, ?, ? FROM observations WHERE id > ? AND code = ?`
		if db.Dialect() == sqlstore.Postgres {
			q = `INSERT INTO observation_codes (observation_id, system, code)
			SELECT id, $1, $2 FROM observations WHERE id > $3 AND code = $4`
		}
		if _, err := tx.ExecContext(ctx, q, c.System, c.Code, firstID, string(code)); err != nil {
			return fmt.Errorf("insert observation codes: %w", err)
		}
	}
	return nil
}
