package bulk

import (
	"slices"
	"strings"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/oauth/scope"
)

// Access to bulk export is decided here and nowhere else.
//
//   - Only OAuth clients export (actor.ClientID set): Bulk Data is for
//     backend services, so only system/ scopes count. No token is
//     apperr.Unauthenticated; a token without the scopes apperr.Forbidden.
//   - Kick-off needs the $export operation scope of its level:
//     system/*.$export for a system export, system/Patient.$export (or the
//     wildcard) for a Patient-level one, system/Group.$export (or the
//     wildcard) for a Group-level one.
//   - Each exported type needs a system read scope for it
//     (scope.Allows(..., PermRead)). A requested _type (or _typeFilter type)
//     the token cannot read is apperr.Forbidden; without _type the export
//     takes every exportable type the token can read, and none is Forbidden.
//   - Status and cancel need system/*.$bulkdata-status, or the $export scope
//     that the export's level needs: a client that may start an export may
//     follow it, and a monitoring client may hold the status scope alone.
//   - Status, cancel and files are the exporting client's only: for any
//     other client the export does not exist (apperr.NotFound), so an export
//     id found in a log reveals nothing.
//   - An output file needs, besides the owner, a system read scope for its
//     resource type (Bulk Data 2.0: the file server SHALL check the token's
//     scopes cover the file's type); a status-only or other-type token is
//     apperr.Forbidden. Exports are system-level only, so system/ is the
//     export's context. An error file (OperationOutcome) holds no exported
//     data but names what failed: it needs what following the export needs.

// granted parses the scopes of a's token; a scope that does not parse
// grants nothing rather than failing the request.
func granted(a actor.Actor) []scope.Scope {
	out := make([]scope.Scope, 0, len(a.Scopes))
	for _, s := range a.Scopes {
		if sc, err := scope.Parse(s); err == nil {
			out = append(out, sc)
		}
	}
	return out
}

// levelType is the resource type an export level's $export scope names.
func levelType(l Level) string {
	switch l {
	case LevelPatient:
		return "Patient"
	case LevelGroup:
		return "Group"
	}
	return scope.WildcardType
}

func requireClient(a actor.Actor) error {
	if a.ClientID == "" {
		return apperr.New(apperr.Unauthenticated, "bulk export needs an access token of a backend-service client")
	}
	return nil
}

// authorizeLevel decides whether a may kick off an export at level.
func authorizeLevel(a actor.Actor, level Level) error {
	if err := requireClient(a); err != nil {
		return err
	}
	if !scope.AllowsOperation(granted(a), scope.ContextSystem, levelType(level), scope.OpExport) {
		return apperr.New(apperr.Forbidden, "a %s-level export needs the scope system/%s.%s", level, levelType(level), scope.OpExport)
	}
	return nil
}

// authorizeTypes returns the types a may export: the requested ones, each
// of which it must be able to read, or, when none were requested, every
// candidate it can read. filterTypes (from _typeFilter) must be readable too.
func authorizeTypes(a actor.Actor, requested, candidates, filterTypes []string) ([]string, error) {
	g := granted(a)
	readable := func(t string) bool { return scope.Allows(g, scope.ContextSystem, t, scope.PermRead) }
	for _, t := range append(slices.Clone(requested), filterTypes...) {
		if !readable(t) {
			return nil, apperr.New(apperr.Forbidden, "the token's scopes do not allow reading %s (system/%s.read)", t, t)
		}
	}
	if requested != nil {
		return requested, nil
	}
	var out []string
	for _, t := range candidates {
		if readable(t) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, apperr.New(apperr.Forbidden, "the token's scopes allow reading none of the exportable types (%s)", strings.Join(candidates, ", "))
	}
	return out, nil
}

// authorizeStatus decides whether a may poll or cancel e.
func authorizeStatus(a actor.Actor, e *Export) error {
	if err := authorizeOwner(a, e); err != nil {
		return err
	}
	g := granted(a)
	if scope.AllowsOperation(g, scope.ContextSystem, scope.WildcardType, scope.OpBulkDataStatus) ||
		scope.AllowsOperation(g, scope.ContextSystem, levelType(e.Level), scope.OpExport) {
		return nil
	}
	return apperr.New(apperr.Forbidden, "following an export needs system/*.%s or system/%s.%s",
		scope.OpBulkDataStatus, levelType(e.Level), scope.OpExport)
}

// authorizeFile decides whether a may download f, a file of e; isError
// says f is in e's error list.
func authorizeFile(a actor.Actor, e *Export, f *File, isError bool) error {
	if err := authorizeOwner(a, e); err != nil {
		return err
	}
	if isError {
		return authorizeStatus(a, e)
	}
	if !scope.Allows(granted(a), scope.ContextSystem, f.Type, scope.PermRead) {
		return apperr.New(apperr.Forbidden, "downloading a %s file needs the scope system/%s.read", f.Type, f.Type)
	}
	return nil
}

// authorizeOwner lets only the exporting client see e.
func authorizeOwner(a actor.Actor, e *Export) error {
	if err := requireClient(a); err != nil {
		return err
	}
	if e.ClientID != a.ClientID {
		return apperr.New(apperr.NotFound, "export not found")
	}
	return nil
}
