package mis

import (
	"context"
	"fmt"
	"strconv"

	"ward/internal/apperr"
	"ward/internal/directory"
)

// UserIdentifiers reads a person's identifiers: *directory.Service's
// method of that name, which checks that the caller may view the person.
type UserIdentifiers interface {
	UserIdentifiers(ctx context.Context, id int64) ([]directory.Identifier, error)
}

// DirectoryIDMap is the IDMap over ward's directory: the MIS profile id of
// person N is the value of N's identifier in System (ProfileSystem of the
// connector's name unless configured otherwise). Whoever creates the MIS
// profile of a person records that identifier (directory
// AddUserIdentifier), so the conversion is one lookup.
type DirectoryIDMap struct {
	Users  UserIdentifiers
	System string
}

var _ IDMap = DirectoryIDMap{}

// ProfileID implements IDMap; localID is ward's user id.
func (m DirectoryIDMap) ProfileID(ctx context.Context, localID string) (string, bool, error) {
	id, err := strconv.ParseInt(localID, 10, 64)
	if err != nil || id <= 0 {
		return "", false, apperr.New(apperr.Invalid, "%q is not a ward user id", localID)
	}
	ids, err := m.Users.UserIdentifiers(ctx, id)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("identifiers of user %d: %w", id, err)
	}
	for _, ident := range ids {
		if ident.System == m.System && ident.Value != "" {
			return ident.Value, true, nil
		}
	}
	return "", false, nil
}
