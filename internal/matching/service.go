package matching

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"ward/internal/directory"
)

// Keys are the blocking keys of a query: a candidate is any live patient
// sharing at least one. Each kind is an index lookup in the store.
type Keys struct {
	// Identifiers have both a system and a value (exact match on the
	// (system, value) index; a value without a system is scored, not
	// looked up).
	Identifiers []Identifier
	// Emails are EmailKey values.
	Emails []string
	// Phones are PhoneKey values, matched against both stored numbers.
	Phones []string
	// BirthDates are full YYYY-MM-DD dates (BirthVariants of the query's).
	BirthDates []string
	// Names are Phonetic keys of (family, given); Given "" matches any
	// given name.
	Names []NameKey
}

// NameKey is a phonetic (family, given) pair.
type NameKey struct {
	Family, Given string
}

// Empty reports whether the keys can find nothing.
func (k Keys) Empty() bool {
	return len(k.Identifiers) == 0 && len(k.Emails) == 0 && len(k.Phones) == 0 &&
		len(k.BirthDates) == 0 && len(k.Names) == 0
}

// Store finds candidates. Implemented by internal/sqlstore; the contract
// is checked on both databases there.
type Store interface {
	// MatchCandidates returns the live users holding the patient role who
	// share at least one of k's keys, at most perKey for each kind of key
	// (so a very common name or birth date cannot make a match expensive),
	// in no particular order, each once. Every lookup is an index range.
	MatchCandidates(ctx context.Context, k Keys, perKey int) ([]*directory.User, error)
	// UserIdentifiersFor returns each user's identifiers in one round trip.
	UserIdentifiersFor(ctx context.Context, ids []int64) (map[int64][]directory.Identifier, error)
}

// PerKey bounds the candidates each kind of key contributes.
const PerKey = 100

// Limits on a query, so that a hostile one stays cheap: values past them
// are ignored for finding candidates (they still score).
const (
	maxKeyValues = 8
	maxTextLen   = 256
)

// Service finds and scores candidates.
type Service struct {
	store Store
}

// NewService returns the matcher over store.
func NewService(store Store) *Service { return &Service{store: store} }

// Candidate is a scored candidate.
type Candidate struct {
	User        *directory.User
	Identifiers []directory.Identifier
	Result
}

// Match returns the candidates for q that grade possible or better, best
// first (ties by id, so the order is stable). It does not decide who may
// see them: the caller filters by its own policy, walking down the list.
func (s *Service) Match(ctx context.Context, q Record) ([]Candidate, error) {
	k := KeysFor(q)
	if k.Empty() {
		return nil, nil
	}
	users, err := s.store.MatchCandidates(ctx, k, PerKey)
	if err != nil {
		return nil, fmt.Errorf("match candidates: %w", err)
	}
	if len(users) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	idents, err := s.store.UserIdentifiersFor(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("match candidates' identifiers: %w", err)
	}
	out := make([]Candidate, 0, len(users))
	for _, u := range users {
		r := Score(q, RecordOf(u, idents[u.ID]))
		if r.Grade == CertainlyNot {
			continue
		}
		out = append(out, Candidate{User: u, Identifiers: idents[u.ID], Result: r})
	}
	slices.SortFunc(out, func(a, b Candidate) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return int(a.User.ID - b.User.ID)
	})
	return out, nil
}

// RecordOf is a directory user's demographics as matching reads them.
// The directory stores no postal address for people, so Addresses is empty.
func RecordOf(u *directory.User, ids []directory.Identifier) Record {
	r := Record{Family: u.FamilyName, BirthDate: u.BirthDate, Gender: u.Gender}
	if u.GivenName != "" {
		r.Given = []string{u.GivenName}
	}
	for _, id := range ids {
		r.Identifiers = append(r.Identifiers, Identifier{System: id.System, Value: strings.TrimSpace(id.Value)})
	}
	if u.Email != "" {
		r.Emails = []string{u.Email}
	}
	for _, p := range []string{u.Phone, u.AltPhone} {
		if p != "" {
			r.Phones = append(r.Phones, p)
		}
	}
	return r
}

// KeysFor returns q's blocking keys, deduplicated and bounded.
func KeysFor(q Record) Keys {
	var k Keys
	for _, id := range q.Identifiers {
		v := strings.TrimSpace(id.Value)
		if id.System != "" && v != "" && len(id.System) <= maxTextLen && len(v) <= maxTextLen {
			k.Identifiers = appendNew(k.Identifiers, Identifier{System: id.System, Value: v})
		}
	}
	for _, e := range q.Emails {
		if e := EmailKey(e); e != "" && len(e) <= maxTextLen {
			k.Emails = appendNew(k.Emails, e)
		}
	}
	for _, p := range q.Phones {
		if p := PhoneKey(p); p != "" {
			k.Phones = appendNew(k.Phones, p)
		}
	}
	for _, d := range BirthVariants(q.BirthDate) {
		k.BirthDates = appendNew(k.BirthDates, d)
	}
	fam := Phonetic(clip(q.Family))
	givens := givenParts(q.Given)
	switch {
	case fam != "" && len(givens) > 0 && Phonetic(clip(givens[0])) != "":
		g := Phonetic(clip(givens[0]))
		k.Names = appendNew(k.Names, NameKey{Family: fam, Given: g})
		// The two written the other way round.
		k.Names = appendNew(k.Names, NameKey{Family: g, Given: fam})
	case fam != "":
		k.Names = appendNew(k.Names, NameKey{Family: fam})
	}
	k.Identifiers = k.Identifiers[:min(len(k.Identifiers), maxKeyValues)]
	k.Emails = k.Emails[:min(len(k.Emails), maxKeyValues)]
	k.Phones = k.Phones[:min(len(k.Phones), maxKeyValues)]
	return k
}

func clip(s string) string {
	if len(s) > maxTextLen {
		return s[:maxTextLen]
	}
	return s
}

func appendNew[T comparable](list []T, v T) []T {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}
