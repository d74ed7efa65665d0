package clinical

import (
	"context"
	"slices"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/store"
)

// authorizeSearch is the one access rule of every search and count: the
// caller needs View on each patient in f.PatientIDs (checked one by one
// through check_role, so a search can never reach further than a read of
// each patient could). A nil f.PatientIDs searches every patient's record,
// which only ward itself (actor.System: bulk export jobs, background work)
// may do; anyone else is Forbidden and must name the patients, for example
// the ones their token's compartment or the directory lets them see.
func (s *Service) authorizeSearch(ctx context.Context, f Filter) error {
	if f.PatientIDs == nil {
		if actor.From(ctx).System {
			return nil
		}
		return apperr.New(apperr.Forbidden, "searching every patient's record is reserved to ward itself; name the patients")
	}
	seen := make(map[int64]bool, len(f.PatientIDs))
	for _, id := range f.PatientIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		if err := s.perm.CheckRole(ctx, directory.View, id); err != nil {
			return err
		}
	}
	return nil
}

// normalizeFilter copies f's patient set, so the store sees what was
// checked even if the caller reuses its slice.
func normalizeFilter(f Filter) Filter {
	if f.PatientIDs != nil {
		f.PatientIDs = slices.Clone(f.PatientIDs)
	}
	return f
}

// Search returns a page (ascending id) of the live records f keeps and
// the next page's cursor. Access: see authorizeSearch — View on every
// patient in f.PatientIDs, or ward itself for a nil set; any one patient
// the caller may not view fails the whole search with that check's error.
func (c *Kind[T]) Search(ctx context.Context, f Filter, p store.Page) ([]*T, string, error) {
	f = normalizeFilter(f)
	if err := c.s.authorizeSearch(ctx, f); err != nil {
		return nil, "", err
	}
	return c.k.records(c.s.store).Search(ctx, f, p.Normalize())
}

// CountMatching returns how many live records f keeps (a searchset's
// total), with Search's access rule.
func (c *Kind[T]) CountMatching(ctx context.Context, f Filter) (int, error) {
	f = normalizeFilter(f)
	if err := c.s.authorizeSearch(ctx, f); err != nil {
		return 0, err
	}
	return c.k.records(c.s.store).CountMatching(ctx, f)
}
