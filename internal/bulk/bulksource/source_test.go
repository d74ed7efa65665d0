package bulksource_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/bulk"
	"ward/internal/bulk/bulksource"
	"ward/internal/clinical"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/document"
	"ward/internal/fhir/search"
	"ward/internal/server"
	"ward/internal/testutil"
)

// fixture is two patients with observations, a procedure and a document,
// on a real database.
type fixture struct {
	svc    *server.Services
	p1, p2 int64
	obs    map[int64][]int64 // patient -> observation ids
	mid    time.Time         // between the first and the second batch of writes
}

func newFixture(t *testing.T, dbURL string) *fixture {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = dbURL
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	f := &fixture{svc: srv.Services(), obs: map[int64][]int64{}}
	sys := actor.System(context.Background())
	mk := func(email string) int64 {
		u, err := f.svc.Directory.CreateUser(sys, directory.NewUser{User: directory.User{Email: email, GivenName: email[:3]}, Roles: []string{"patient"}})
		if err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	f.p1, f.p2 = mk("ann@example.org"), mk("bob@example.org")
	obs := func(p int64, code string) {
		at := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
		o, err := f.svc.Clinical.Observations().Create(sys, clinical.Observation{PatientID: p, Status: clinical.ObsFinal,
			Code: []clinical.Coding{{System: "http://loinc.org", Code: code}}, Effective: clinical.Occurrence{DateTime: &at},
			Value: clinical.Value{Kind: clinical.ValueString, String: "ok"}})
		if err != nil {
			t.Fatal(err)
		}
		f.obs[p] = append(f.obs[p], o.ID)
	}
	obs(f.p1, "1-1")
	obs(f.p2, "2-2")
	time.Sleep(5 * time.Millisecond)
	f.mid = time.Now()
	time.Sleep(5 * time.Millisecond)
	obs(f.p1, "3-3")
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := f.svc.Clinical.Procedures().Create(sys, clinical.Procedure{PatientID: f.p2, Status: clinical.ProcCompleted,
		Code: []clinical.Coding{{System: clinical.SNOMEDSystem, Code: "80146002"}}, Performed: clinical.Occurrence{DateTime: &at}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Documents.Create(sys, &document.Document{PatientID: f.p1, ContentType: "text/plain"}, bytes.NewReader([]byte("hi"))); err != nil {
		t.Fatal(err)
	}
	return f
}

// scan collects what the source yields for typ, checking key order.
func scan(t *testing.T, src bulk.Source, typ string, q bulk.Query, after int64) (keys []int64, types []string) {
	t.Helper()
	err := src.Scan(context.Background(), typ, q, after, func(key int64, res any) error {
		if len(keys) > 0 && key <= keys[len(keys)-1] {
			t.Fatalf("%s: key %d after %d, want ascending", typ, key, keys[len(keys)-1])
		}
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		if err := testutil.FHIRSchema(t).Validate(b); err != nil {
			t.Errorf("%s key %d: not valid R4: %v", typ, key, err)
		}
		var r struct{ ResourceType string }
		_ = json.Unmarshal(b, &r)
		keys = append(keys, key)
		types = append(types, r.ResourceType)
		return nil
	})
	if err != nil {
		t.Fatalf("scan %s: %v", typ, err)
	}
	return keys, types
}

func typeFilter(t *testing.T, typ, raw string) search.Query {
	t.Helper()
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	q, err := search.Parse(typ, v)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestSource(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		f := newFixture(t, dbURL)
		src := f.svc.ExportSource
		if !slices.Equal(src.Types(), []string{"Patient", "Observation", "Procedure", "DocumentReference", "Organization"}) {
			t.Errorf("types %v", src.Types())
		}
		if src.InPatientCompartment("Organization") || !src.InPatientCompartment("Observation") {
			t.Error("compartment membership is wrong")
		}
		all := append(slices.Clone(f.obs[f.p1]), f.obs[f.p2]...)
		slices.Sort(all)
		for _, c := range []struct {
			name  string
			typ   string
			q     bulk.Query
			after int64
			want  []int64
		}{
			{"every observation", "Observation", bulk.Query{}, 0, all},
			{"resumed after a key", "Observation", bulk.Query{}, all[0], all[1:]},
			{"one patient's", "Observation", bulk.Query{Patients: []int64{f.p1}}, 0, f.obs[f.p1]},
			{"no patients", "Observation", bulk.Query{Patients: []int64{}}, 0, nil},
			{"changed since", "Observation", bulk.Query{Since: f.mid}, 0, f.obs[f.p1][1:]},
			{"changed until", "Observation", bulk.Query{Until: f.mid}, 0, []int64{f.obs[f.p1][0], f.obs[f.p2][0]}},
			{"a type filter", "Observation", bulk.Query{Filters: []search.Query{typeFilter(t, "Observation", "code=1-1")}}, 0, f.obs[f.p1][:1]},
			{"type filters are ORed, each resource once", "Observation", bulk.Query{Filters: []search.Query{
				typeFilter(t, "Observation", "code=1-1"), typeFilter(t, "Observation", "code=2-2"),
				typeFilter(t, "Observation", "patient=Patient/"+itoa(f.p1))}}, 0,
				append(slices.Clone(f.obs[f.p1]), f.obs[f.p2]...)},
			{"patients", "Patient", bulk.Query{}, 0, []int64{f.p1, f.p2}},
			{"patients in the set", "Patient", bulk.Query{Patients: []int64{f.p2}}, 0, []int64{f.p2}},
			{"patient type filter", "Patient", bulk.Query{Filters: []search.Query{typeFilter(t, "Patient", "name=ann")}}, 0, []int64{f.p1}},
		} {
			keys, types := scan(t, src, c.typ, c.q, c.after)
			slices.Sort(c.want)
			if !slices.Equal(keys, c.want) {
				t.Errorf("%s: keys %v, want %v", c.name, keys, c.want)
			}
			for _, rt := range types {
				if rt != c.typ {
					t.Errorf("%s: a %s in the %s scan", c.name, rt, c.typ)
				}
			}
		}
		if keys, _ := scan(t, src, "Procedure", bulk.Query{Patients: []int64{f.p1}}, 0); len(keys) != 0 {
			t.Errorf("p1 has no procedure, got %v", keys)
		}
		if keys, _ := scan(t, src, "Procedure", bulk.Query{}, 0); len(keys) != 1 {
			t.Errorf("procedures %v, want one", keys)
		}
		if keys, _ := scan(t, src, "DocumentReference", bulk.Query{}, 0); len(keys) != 1 {
			t.Errorf("documents %v, want one", keys)
		}
		if err := src.Scan(context.Background(), "Medication", bulk.Query{}, 0, func(int64, any) error { return nil }); err == nil {
			t.Error("an unknown type should be refused")
		}
	})
}

func TestGroupMembers(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		f := newFixture(t, dbURL)
		sys := actor.System(context.Background())
		org, err := f.svc.Directory.CreateOrganization(sys, &directory.Organization{Name: "Clinic"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Directory.AddConsent(sys, &directory.Consent{UserID: f.p2, OrganizationID: org.ID}); err != nil {
			t.Fatal(err)
		}
		g := bulksource.Groups{Dir: f.svc.Directory}
		got, err := g.GroupMembers(context.Background(), "org-"+itoa(org.ID))
		if err != nil || !slices.Equal(got, []int64{f.p2}) {
			t.Errorf("members %v (%v), want [%d]", got, err, f.p2)
		}
		for _, bad := range []string{"org-999999", "nonsense", "org-0"} {
			if _, err := g.GroupMembers(context.Background(), bad); err == nil {
				t.Errorf("group %q should not be found", bad)
			}
		}
	})
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
