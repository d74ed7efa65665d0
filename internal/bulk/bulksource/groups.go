package bulksource

import (
	"context"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/bulk"
	"ward/internal/directory"
	"ward/internal/fhir"
)

// Members is the directory's computed Group membership.
type Members interface {
	GroupMembers(ctx context.Context, g directory.GroupRef, afterID int64, limit int) ([]int64, error)
}

// Groups resolves a Group export's members (bulk.Groups) by its FHIR id.
type Groups struct{ Dir Members }

var _ bulk.Groups = Groups{}

// memberPage is how many member ids are read per query.
const memberPage = 1000

// GroupMembers implements bulk.Groups: every member, read as ward (the
// export's access was decided at kick-off).
func (g Groups) GroupMembers(ctx context.Context, groupID string) ([]int64, error) {
	ref, err := fhir.ParseGroupID(groupID)
	if err != nil {
		return nil, apperr.New(apperr.NotFound, "Group/%s not found", groupID)
	}
	ctx = actor.System(ctx)
	out := []int64{}
	after := int64(0)
	for {
		ids, err := g.Dir.GroupMembers(ctx, ref, after, memberPage)
		if err != nil {
			if apperr.Is(err, apperr.Invalid) {
				return nil, apperr.New(apperr.NotFound, "Group/%s not found", groupID)
			}
			return nil, err
		}
		out = append(out, ids...)
		if len(ids) < memberPage {
			return out, nil
		}
		after = ids[len(ids)-1]
	}
}
