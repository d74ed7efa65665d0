package intervention

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"ward/internal/apperr"
)

// Size limits of an intervention's fields, in bytes. Card HTML is a small
// fragment of a page, not a document; the limits keep one row small.
const (
	MaxNameLen        = 50
	MaxDescriptionLen = 2000
	MaxCardHTMLLen    = 64 << 10
	MaxLinkLabelLen   = 200
	MaxLinkURLLen     = 2000
	MaxStatusTextLen  = 2000
)

// namePattern is what an intervention name may be: the reference's names
// (care_plan, sexual_recovery, decision_support_p3p) are lower-case
// identifiers, and a name appears in URL paths and in access rules.
var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Intervention is one app a person may be shown as a card.
type Intervention struct {
	// ID is assigned by the store; Name is the key everything else uses.
	ID   int64
	Name string
	// Description is for administrators; the card shows CardHTML.
	Description string
	CardHTML    string
	LinkLabel   string
	// LinkURL is where the card's button leads: an absolute http(s) URL,
	// or "" for a card without a link.
	LinkURL    string
	StatusText string
	// PublicAccess shows the card to everyone (the reference's default).
	PublicAccess bool
	// DisplayRank orders cards, ascending.
	DisplayRank int
	// ClientID is the OAuth client that acts for the intervention, read
	// only: a client names the intervention it serves in the client
	// registry, and at most one client may name each intervention.
	ClientID  string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Version increments on every update (optimistic concurrency).
	Version int64
}

// Store persists interventions. Implemented by internal/sqlstore.
type Store interface {
	// CreateIntervention inserts iv (setting ID and Version 1); a taken
	// name is Conflict.
	CreateIntervention(ctx context.Context, iv *Intervention) error
	// GetIntervention reads one by name; NotFound when there is none.
	GetIntervention(ctx context.Context, name string) (*Intervention, error)
	// ListInterventions returns every intervention by display rank, then name.
	ListInterventions(ctx context.Context) ([]*Intervention, error)
	// UpdateIntervention writes every field but the name when the stored
	// version is iv.Version, then increments it; Conflict otherwise.
	UpdateIntervention(ctx context.Context, iv *Intervention) error
	// DeleteIntervention removes it with its per-user rows; a client that
	// named it names none.
	DeleteIntervention(ctx context.Context, name string) error

	// GetUserIntervention reads a person's row; NotFound when none.
	GetUserIntervention(ctx context.Context, name string, userID int64) (*UserIntervention, error)
	// PutUserIntervention inserts or replaces a person's row.
	PutUserIntervention(ctx context.Context, ui *UserIntervention) error
	// LockUser locks the person for the rest of the transaction in ctx
	// (directory.Store.LockUser); NotFound for an unknown person.
	LockUser(ctx context.Context, id int64) error

	// LoadFacts reads what decisions need about one person with a fixed
	// number of queries, whatever the number of interventions: roles,
	// organizations, the newest observation per TRUENTH clinical concept
	// (offered to Facts.AddObservation in its order), whether a Procedure
	// coded in clinical.TxStarted exists (Facts.TxBegun),
	// and the person's rows. An unknown person has empty Facts.
	LoadFacts(ctx context.Context, userID int64) (*Facts, error)
	RuleStore
}

// CheckName refuses a malformed intervention name before any lookup.
func CheckName(name string) error {
	if len(name) == 0 || len(name) > MaxNameLen || !namePattern.MatchString(name) {
		return apperr.New(apperr.Invalid, "intervention name must be 1 to %d characters of a-z, 0-9 and _, starting with a letter", MaxNameLen)
	}
	return nil
}

// checkText refuses a field that is too long or that a database cannot
// store (a NUL byte or invalid UTF-8).
func checkText(field, v string, max int) error {
	if len(v) > max {
		return apperr.New(apperr.Invalid, "%s is longer than %d bytes", field, max)
	}
	if strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v) {
		return apperr.New(apperr.Invalid, "%s holds a NUL byte or is not valid UTF-8", field)
	}
	return nil
}

// CheckLinkURL accepts "" or an absolute http(s) URL with a host and no
// user information (a link shown to patients must not carry credentials).
func CheckLinkURL(field, raw string) error {
	if err := checkText(field, raw, MaxLinkURLLen); err != nil {
		return err
	}
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return apperr.New(apperr.Invalid, "%s must be an absolute http or https URL without user information", field)
	}
	return nil
}

// Validate checks every field of iv.
func (iv *Intervention) Validate() error {
	if err := CheckName(iv.Name); err != nil {
		return err
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"description", iv.Description, MaxDescriptionLen},
		{"card_html", iv.CardHTML, MaxCardHTMLLen},
		{"link_label", iv.LinkLabel, MaxLinkLabelLen},
		{"status_text", iv.StatusText, MaxStatusTextLen},
	} {
		if err := checkText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if iv.DisplayRank < -1_000_000 || iv.DisplayRank > 1_000_000 {
		return apperr.New(apperr.Invalid, "display_rank must be between -1000000 and 1000000")
	}
	return CheckLinkURL("link_url", iv.LinkURL)
}
