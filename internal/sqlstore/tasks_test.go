package sqlstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/store"
	"ward/internal/testutil"
	"ward/internal/timerange"
	"ward/internal/workflow"
)

// The tasks table on both databases: versions, filters, paging, and the
// organization look-up behind the self-submission rule.
func TestTaskStore(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := testutil.NewStore(t, url)
		org := &directory.Organization{Name: "Kampala Health Centre", Identifiers: []directory.Identifier{{System: "urn:hf", Value: "HC-7"}}}
		if err := db.CreateOrganization(ctx, org); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		var ids []int64
		for i, bs := range []workflow.BusinessStatus{workflow.Submitted, workflow.Submitted, workflow.Validated} {
			tk := &workflow.Task{Status: workflow.FHIRStatus[bs], BusinessStatus: bs, Resource: []byte(`{"intent":"order"}`),
				Source: "urn:portal|home", ClientID: "portal", CreatedAt: now, UpdatedAt: now.Add(time.Duration(i) * time.Hour)}
			if err := db.CreateTask(ctx, tk); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, tk.ID)
		}
		got, err := db.GetTask(ctx, ids[0])
		if err != nil || got.Version != 1 || string(got.Resource) != `{"intent":"order"}` || got.Source != "urn:portal|home" || got.PatientID != 0 {
			t.Fatalf("get: %+v %v", got, err)
		}
		if _, err := db.GetTask(ctx, 999999); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("missing task: %v", err)
		}
		got.BusinessStatus, got.Status, got.StatusReason = workflow.Rejected, "rejected", "no proof"
		if err := db.UpdateTaskStatus(ctx, got); err != nil || got.Version != 2 {
			t.Fatalf("update: %v (version %d)", err, got.Version)
		}
		got.Version = 1
		if err := db.UpdateTaskStatus(ctx, got); !apperr.Is(err, apperr.Conflict) {
			t.Errorf("stale update: %v", err)
		}
		if err := db.UpdateTaskStatus(ctx, &workflow.Task{ID: 999999, Version: 1, Status: "rejected", BusinessStatus: workflow.Rejected}); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("update of a missing task: %v", err)
		}
		bad := &workflow.Task{Status: "requested", BusinessStatus: "lost", Resource: []byte(`{}`), CreatedAt: now, UpdatedAt: now}
		if err := db.CreateTask(ctx, bad); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("unknown business status: %v", err)
		}
		nul := &workflow.Task{Status: "requested", BusinessStatus: workflow.Submitted, Resource: []byte("{\"a\":\"\x00\"}"), CreatedAt: now, UpdatedAt: now}
		if err := db.CreateTask(ctx, nul); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("NUL in the resource: %v", err)
		}

		search := func(f workflow.Filter) []int64 {
			t.Helper()
			var out []int64
			after := ""
			for {
				page, next, err := db.SearchTasks(ctx, f, store.Page{Limit: 1, After: after})
				if err != nil {
					t.Fatal(err)
				}
				for _, tk := range page {
					out = append(out, tk.ID)
				}
				if next == "" {
					break
				}
				after = next
			}
			n, err := db.CountTasks(ctx, f)
			if err != nil || n != len(out) {
				t.Errorf("count %d (%v), searched %d", n, err, len(out))
			}
			return out
		}
		cases := []struct {
			name string
			f    workflow.Filter
			want []int64
		}{
			{"all", workflow.Filter{}, ids},
			{"submitted", workflow.Filter{BusinessStatuses: []workflow.BusinessStatus{workflow.Submitted}}, ids[1:2]},
			{"rejected or validated", workflow.Filter{BusinessStatuses: []workflow.BusinessStatus{workflow.Rejected, workflow.Validated}}, []int64{ids[0], ids[2]}},
			{"status", workflow.Filter{Statuses: []string{"in-progress"}}, ids[2:]},
			{"ids", workflow.Filter{IDs: []int64{ids[1], 999999}}, ids[1:2]},
			{"no patient", workflow.Filter{PatientIDs: []int64{1}}, nil},
			{"none", workflow.Filter{Statuses: []string{}}, nil},
			{"updated later", workflow.Filter{Updated: []timerange.Bound{{Prefix: timerange.Ge, Start: now.Add(90 * time.Minute), End: now.Add(91 * time.Minute)}}}, ids[2:]},
			// Three bounds take the uncached path.
			{"three bounds", workflow.Filter{Updated: []timerange.Bound{
				{Prefix: timerange.Ge, Start: now.Add(-time.Hour), End: now.Add(-time.Hour + time.Second)},
				{Prefix: timerange.Lt, Start: now.Add(30 * time.Minute), End: now.Add(31 * time.Minute)},
				{Prefix: timerange.Ne, Start: now.Add(-10 * time.Hour), End: now.Add(-9 * time.Hour)},
			}}, ids[:1]},
		}
		for _, c := range cases {
			if got := search(c.f); !slices.Equal(got, c.want) {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
			}
		}
		if _, _, err := db.SearchTasks(ctx, workflow.Filter{}, store.Page{After: "!!"}); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("bad cursor: %v", err)
		}

		for name, c := range map[string]struct {
			ref  workflow.OrgRef
			want int64
		}{
			"id":               {workflow.OrgRef{ID: org.ID}, org.ID},
			"missing id":       {workflow.OrgRef{ID: 999999}, 0},
			"identifier":       {workflow.OrgRef{System: "urn:hf", Value: "HC-7"}, org.ID},
			"other system":     {workflow.OrgRef{System: "urn:other", Value: "HC-7"}, 0},
			"value any system": {workflow.OrgRef{Value: "HC-7"}, org.ID},
			"name":             {workflow.OrgRef{Name: " kampala health CENTRE "}, org.ID},
			"other name":       {workflow.OrgRef{Name: "Kampala"}, 0},
			"nothing":          {workflow.OrgRef{}, 0},
		} {
			if got, err := db.FindOrganization(ctx, c.ref); err != nil || got != c.want {
				t.Errorf("FindOrganization %s: %d %v, want %d", name, got, err, c.want)
			}
		}
	})
}
