package intervention

import (
	"context"
	"encoding/json"
	"time"
)

// AccessRule is one stored access rule of an intervention (the reference's
// AccessStrategy): what its author gave, kept as given, plus bookkeeping.
type AccessRule struct {
	// ID is assigned by the store; a rule is addressed by its
	// intervention and ID.
	ID           int64
	Intervention string
	Name         string
	Description  string
	// Rank orders ranked rules before unranked ones; nil for none. Unique
	// within the intervention.
	Rank *int
	// Details is the function_details JSON exactly as given.
	Details   json.RawMessage
	CreatedAt time.Time
	UpdatedAt time.Time
	// Version increments on every update (optimistic concurrency).
	Version int64
	// Error, in listings only, says why the stored rule no longer compiles
	// (an organization it names was deleted, say); such a rule grants
	// nothing until it is fixed. Never stored.
	Error string
}

// OrgRef is an organization's id and name, for resolving the names rules
// give.
type OrgRef struct {
	ID   int64
	Name string
}

// OrgIdentifierRef is one identifier of an organization.
type OrgIdentifierRef struct {
	OrgID         int64
	System, Value string
}

// RuleStore persists access rules; part of Store.
type RuleStore interface {
	// CreateAccessRule inserts r (setting ID and Version 1). An unknown
	// intervention is Invalid; a rank the intervention's other rules hold
	// is Conflict.
	CreateAccessRule(ctx context.Context, r *AccessRule) error
	// GetAccessRule reads one rule by id; NotFound when there is none.
	GetAccessRule(ctx context.Context, id int64) (*AccessRule, error)
	// ListAccessRules returns the intervention's rules by id (creation
	// order), or every intervention's rules when intervention is "".
	ListAccessRules(ctx context.Context, intervention string) ([]*AccessRule, error)
	// UpdateAccessRule writes name, description, rank, details and
	// updated_at when the stored version is r.Version, then increments
	// r.Version; Conflict when the version moved (or the rank is taken),
	// NotFound when there is no such rule.
	UpdateAccessRule(ctx context.Context, r *AccessRule) error
	// DeleteAccessRule removes one rule; NotFound when there is none.
	DeleteAccessRule(ctx context.Context, id int64) error

	// LockAccessRules serialises rule writes for the rest of the
	// transaction in ctx, so two writers checking for cycles across
	// interventions cannot each add half of one. It moves RulesetVersion.
	LockAccessRules(ctx context.Context) error
	// RulesetVersion is a counter that moves whenever anything a compiled
	// ruleset depends on changes: access rules, interventions (and the
	// client acting for each), organizations (insert, delete, parent, name,
	// identifiers). It is one cheap read; caches compare it.
	RulesetVersion(ctx context.Context) (int64, error)
	// OrgRefs returns every organization's id and name, and
	// OrgIdentifierRefs every organization identifier: what the names and
	// identifiers in rules resolve against.
	OrgRefs(ctx context.Context) ([]OrgRef, error)
	OrgIdentifierRefs(ctx context.Context) ([]OrgIdentifierRef, error)
}
