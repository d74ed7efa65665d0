// Package audit is ward's tamper-evident audit trail. Every state change
// appends an Event inside the caller's transaction; events form a hash chain
// (each event's hash covers its fields and the previous hash), so editing or
// deleting a stored row is detected by Verify.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"

	"ward/internal/store"
)

// Context says what area an event is about (the reference system's enum).
type Context string

// Contexts, from seed 001's audit Context enumeration.
const (
	Other          Context = "other"
	Login          Context = "login"
	Assessment     Context = "assessment"
	Authentication Context = "authentication"
	Intervention   Context = "intervention"
	Account        Context = "account"
	ConsentCtx     Context = "consent"
	User           Context = "user"
	Observation    Context = "observation"
	Organization   Context = "organization"
	Group          Context = "group"
	Procedure      Context = "procedure"
	Relationship   Context = "relationship"
	Role           Context = "role"
	ToU            Context = "tou"
	// Access is a read of patient data through the FHIR API or an export
	// (ward's own context: who read which patient's data, with which client).
	Access Context = "access"
	// Document is a change to a patient's documents (ward's own context).
	Document Context = "document"
	// Export is a Bulk Data export started or cancelled (ward's own).
	Export Context = "export"
)

// Contexts lists every valid Context.
var Contexts = []Context{Other, Login, Assessment, Authentication, Intervention, Account,
	ConsentCtx, User, Observation, Organization, Group, Procedure, Relationship, Role, ToU, Access,
	Document, Export}

// ValidContext reports whether c is one of Contexts.
func ValidContext(c Context) bool {
	for _, x := range Contexts {
		if x == c {
			return true
		}
	}
	return false
}

// Event is one audit record. ID is its position in the chain (1, 2, ...).
type Event struct {
	ID        int64
	Timestamp time.Time // stored with microsecond precision, UTC
	UserID    int64     // acting user, 0 for the system or an anonymous caller
	SubjectID int64     // user the event is about, 0 for none
	ClientID  string    // OAuth client acting, if any
	Context   Context
	Comment   string
	Version   string // ward version that wrote it
	// Type is the typed event (see events.go); "" only for events written
	// before types existed (migration 00017), which hash by the v1 formula.
	Type EventType
	// Subject is the reference of what changed, "<Kind>/<id>" (see Ref);
	// SubjectID stays the user the event is about (their compartment).
	Subject string
	// Payload is a small JSON object of the changed fields that are safe to
	// show (never a secret, hash or token); "" for none.
	Payload string
	// SourceIP is the address the request came from (see actor.Addr),
	// "" for a job or the CLI.
	SourceIP string
	PrevHash string // hex SHA-256 of the previous event, "" for the first
	Hash     string // hex SHA-256 over the fields above
}

// typed reports whether e carries any typed field, and so hashes by the v2
// formula. A v2 row stripped of all of them hashes differently under v1,
// so blanking the typed fields of a new row is detected like any edit.
func (e *Event) typed() bool {
	return e.Type != "" || e.Subject != "" || e.Payload != "" || e.SourceIP != ""
}

// ComputeHash returns the chain hash of e (which must have PrevHash set).
// Fields are length-prefixed so no two different events hash alike. An
// event without typed fields (every row written before migration 00017)
// hashes by the original (v1) formula, so old chains keep verifying; a
// typed event (v2) hashes a version marker and its typed fields after the
// v1 fields.
func ComputeHash(e *Event) string {
	h := sha256.New()
	var buf [8]byte
	putInt := func(v int64) {
		binary.BigEndian.PutUint64(buf[:], uint64(v))
		h.Write(buf[:])
	}
	putStr := func(s string) {
		putInt(int64(len(s)))
		h.Write([]byte(s))
	}
	putInt(e.ID)
	putInt(e.Timestamp.UTC().UnixMicro())
	putInt(e.UserID)
	putInt(e.SubjectID)
	putStr(e.ClientID)
	putStr(string(e.Context))
	putStr(e.Comment)
	putStr(e.Version)
	putStr(e.PrevHash)
	if e.typed() {
		putStr("v2")
		putStr(string(e.Type))
		putStr(e.Subject)
		putStr(e.Payload)
		putStr(e.SourceIP)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Filter selects events for List. Zero fields do not filter.
type Filter struct {
	UserID    int64
	SubjectID int64
	// Involving matches events where the user is either actor or subject.
	Involving int64
	Context   Context
	// Type matches events of this type exactly.
	Type     EventType
	From, To time.Time // inclusive from, exclusive to
	// Newest lists newest first (id descending); a page's cursor then
	// continues with older events.
	Newest bool
}

// Store persists the chain. Contract (checked by internal/sqlstore/storetest):
// Append assigns ID = last ID + 1, PrevHash = last Hash and Hash, serialised
// against concurrent appenders (so the chain never forks), inside the
// transaction in ctx; Head returns the last event's ID and Hash (0, "" for an
// empty chain); Scan visits events in ID order from afterID.
//
// AppendAudits appends es in order exactly as AppendAudit would one by one,
// all or none, with few statements however many there are.
type Store interface {
	AppendAudit(ctx context.Context, e *Event) error
	AppendAudits(ctx context.Context, es []*Event) error
	ListAudit(ctx context.Context, f Filter, p store.Page) ([]Event, string, error)
	ScanAudit(ctx context.Context, afterID int64, fn func(Event) error) error
	AuditHead(ctx context.Context) (id int64, hash string, err error)
}
