package intervention_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"ward/internal/clinical"
	"ward/internal/directory"
	"ward/internal/intervention"
	"ward/internal/testutil"
)

// BenchmarkFactsAndCards is GET /api/user/{id}/interventions without the
// HTTP and the permission check: one person's facts loaded from the
// database (three statements) and the cards of 50 interventions decided
// (goal on SQLite: under 2 ms). The person has roles, two organizations,
// 40 observations of four TRUENTH concepts, 10 procedures (one starting
// treatment) and 5 access rows.
func BenchmarkFactsAndCards(b *testing.B) {
	for _, backend := range testutil.Backends() {
		b.Run(backend, func(b *testing.B) {
			db := testutil.NewStore(b, testutil.URLFor(b, backend))
			ctx := context.Background()
			rs := intervention.BenchRuleset(b)
			u := &directory.User{Email: "p@example.org", GivenName: "P", FamilyName: "Q"}
			if err := db.CreateUser(ctx, u); err != nil {
				b.Fatal(err)
			}
			if err := db.SetUserRoles(ctx, u.ID, []string{directory.RolePatient}); err != nil {
				b.Fatal(err)
			}
			var orgs []int64
			for i, name := range []string{"UCSF", "UCSF Medical Center", "UCSF Urology"} {
				o := &directory.Organization{Name: name}
				if i > 0 {
					o.PartOfID = orgs[i-1]
				}
				if err := db.CreateOrganization(ctx, o); err != nil {
					b.Fatal(err)
				}
				orgs = append(orgs, o.ID)
			}
			if err := db.SetUserOrganizations(ctx, u.ID, orgs[1:]); err != nil {
				b.Fatal(err)
			}
			base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			concepts := []string{"treatment begun", "PCa localized diagnosis", "biopsy", "PCa diagnosis"}
			for i := range 40 {
				at := base.Add(time.Duration(i) * time.Hour)
				o := &clinical.Observation{PatientID: u.ID, Status: clinical.ObsFinal, Issued: at,
					Code:      []clinical.Coding{{System: "http://us.truenth.org/clinical-codes", Code: fmt.Sprint(i % 4), Display: concepts[i%4]}},
					Value:     clinical.Value{Kind: clinical.ValueBoolean, Boolean: i%3 == 0},
					Effective: clinical.Occurrence{DateTime: &at}}
				if err := db.Observations().Create(ctx, o); err != nil {
					b.Fatal(err)
				}
			}
			for i := range 10 {
				code := "73761001"
				if i == 9 {
					code = clinical.TxStarted.Concepts[0].Code
				}
				at := base.Add(time.Duration(i) * time.Hour)
				p := &clinical.Procedure{PatientID: u.ID, Status: clinical.ProcCompleted,
					Code: []clinical.Coding{{System: clinical.SNOMEDSystem, Code: code}}, Performed: clinical.Occurrence{DateTime: &at}}
				if err := db.Procedures().Create(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
			for _, iv := range rs.Interventions {
				c := *iv
				if err := db.CreateIntervention(ctx, &c); err != nil {
					b.Fatal(err)
				}
			}
			for i := range 5 {
				if err := db.PutUserIntervention(ctx, &intervention.UserIntervention{Intervention: rs.Interventions[i*7].Name,
					UserID: u.ID, Access: intervention.AccessGranted, CardHTML: "<p>yours</p>", UpdatedAt: base}); err != nil {
					b.Fatal(err)
				}
			}
			cards := make([]intervention.Card, 0, len(rs.Interventions))
			b.ReportAllocs()
			for b.Loop() {
				f, err := db.LoadFacts(ctx, u.ID)
				if err != nil {
					b.Fatal(err)
				}
				cards = intervention.NewDecider(rs, f).Cards(cards[:0], nil)
			}
			if len(cards) != 50 || !cards[0].Access {
				b.Fatalf("cards %d", len(cards))
			}
		})
	}
}
