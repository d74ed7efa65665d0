package fhir

import (
	"net/url"
	"slices"
	"testing"

	"ward/internal/fhir/search"
	"ward/internal/timerange"
)

func TestIntersectIDs(t *testing.T) {
	for _, c := range []struct {
		a, b, want []int64
	}{
		{nil, nil, nil},
		{nil, []int64{1}, []int64{1}},
		{[]int64{1, 2}, nil, []int64{1, 2}},
		{[]int64{1, 2, 3}, []int64{3, 1}, []int64{1, 3}},
		{[]int64{1}, []int64{2}, []int64{}},
		{[]int64{}, nil, []int64{}},
	} {
		got := IntersectIDs(c.a, c.b)
		if !slices.Equal(got, c.want) || (got == nil) != (c.want == nil) {
			t.Errorf("IntersectIDs(%v, %v) = %#v, want %#v", c.a, c.b, got, c.want)
		}
	}
}

func TestDocumentFilter(t *testing.T) {
	q, err := search.Parse("DocumentReference", url.Values{
		"patient": {"Patient/4,Patient/x"}, "subject": {"4"}, "type": {"http://loinc.org|11488-4,|X,Y"},
		"date": {"ge2024-01-01"}, "_id": {"7,abc"},
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := DocumentFilter(q)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.PatientIDs, []int64{4}) || !slices.Equal(f.IDs, []int64{7}) {
		t.Errorf("ids %v patients %v", f.IDs, f.PatientIDs)
	}
	if len(f.Types) != 3 || f.Types[0].System != "http://loinc.org" || f.Types[1].System != "" || f.Types[1].AnySystem ||
		!f.Types[2].AnySystem {
		t.Errorf("types %+v", f.Types)
	}
	if len(f.Dates) != 1 || f.Dates[0].Prefix != timerange.Ge {
		t.Errorf("dates %+v", f.Dates)
	}
	q, _ = search.Parse("DocumentReference", url.Values{"date": {"2024,2025"}})
	if _, err := DocumentFilter(q); err == nil {
		t.Error("an OR of dates should be refused (the store ANDs bounds)")
	}
}
