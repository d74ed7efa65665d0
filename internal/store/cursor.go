package store

import (
	"encoding/base64"
	"strconv"

	"ward/internal/apperr"
)

// EncodeCursor turns the id of the last item on a page into the opaque After
// cursor for the next page. Callers must treat it as opaque: its encoding may
// change without notice.
func EncodeCursor(lastID int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(lastID, 10)))
}

// DecodeCursor returns the id encoded by EncodeCursor; "" decodes to 0 (the
// first page). A cursor that was not produced by EncodeCursor is Invalid,
// because it comes from the caller.
func DecodeCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, apperr.Wrap(apperr.Invalid, err, "malformed page cursor")
	}
	id, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || id < 0 {
		return 0, apperr.Wrap(apperr.Invalid, err, "malformed page cursor")
	}
	return id, nil
}
