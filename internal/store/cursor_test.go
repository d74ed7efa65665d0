package store

import (
	"testing"

	"ward/internal/apperr"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, id := range []int64{1, 42, 1 << 40} {
		got, err := DecodeCursor(EncodeCursor(id))
		if err != nil || got != id {
			t.Errorf("DecodeCursor(EncodeCursor(%d)) = %d, %v", id, got, err)
		}
	}
	if got, err := DecodeCursor(""); err != nil || got != 0 {
		t.Errorf(`DecodeCursor("") = %d, %v; want the first page`, got, err)
	}
}

func TestCursorRejectsForgeries(t *testing.T) {
	for _, c := range []string{"!!!", "MTI=", "YWJj" /* "abc" */, "LTE" /* "-1" */, "OTk5OTk5OTk5OTk5OTk5OTk5OTk5"} {
		if _, err := DecodeCursor(c); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("DecodeCursor(%q) error %v, want invalid", c, err)
		}
	}
}
