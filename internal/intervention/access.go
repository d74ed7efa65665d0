package intervention

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/directory"
)

// Access is a person's standing with one intervention (the reference's
// UserIntervention.access).
type Access string

// Access values. Subscribed does not show the card: it routes the person's
// events (sign-out, document upload) to the intervention.
const (
	AccessForbidden  Access = "forbidden"
	AccessGranted    Access = "granted"
	AccessSubscribed Access = "subscribed"
)

// MaxStaffHTMLLen bounds the staff HTML of one person's row.
const MaxStaffHTMLLen = MaxCardHTMLLen

// UserIntervention is one person's row for one intervention: their access
// and the display details the intervention set for them.
type UserIntervention struct {
	Intervention string
	UserID       int64
	// Access is "" when the person has no row.
	Access     Access
	CardHTML   string
	LinkLabel  string
	LinkURL    string
	StatusText string
	// StaffHTML is shown to care staff on the person's page (sanitise it).
	StaffHTML string
	UpdatedAt time.Time
}

// UserAccessChange is a partial update of a person's row: nil fields keep
// their value. A person without a row must be given an access.
type UserAccessChange struct {
	Access     *Access
	CardHTML   *string
	LinkLabel  *string
	LinkURL    *string
	StatusText *string
	StaffHTML  *string
}

// ClientReader reads a registered client without a permission check: the
// Service only reads the client acting for an intervention.
type ClientReader interface {
	GetClient(ctx context.Context, clientID string) (*client.Client, error)
}

// Directory is what per-user access needs from the directory service
// (*directory.Service): check_role and a service user's relationships.
type Directory interface {
	Roles
	CheckRole(ctx context.Context, perm directory.Permission, targetID int64) error
	Relationships(ctx context.Context, id int64) ([]directory.UserRelationship, error)
	// Tree is the cached organization tree (what rules' include_children
	// expands through).
	Tree(ctx context.Context) (*directory.OrgTree, error)
}

// UserAccess returns person userID's row for the intervention (Access ""
// when there is none). The caller needs edit on the person.
func (s *Service) UserAccess(ctx context.Context, name string, userID int64) (*UserIntervention, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if err := s.d.Directory.CheckRole(ctx, directory.Edit, userID); err != nil {
		return nil, err
	}
	if _, err := s.d.Store.GetIntervention(ctx, name); err != nil {
		return nil, err
	}
	ui, err := s.d.Store.GetUserIntervention(ctx, name, userID)
	if apperr.Is(err, apperr.NotFound) {
		return &UserIntervention{Intervention: name, UserID: userID}, nil
	}
	return ui, err
}

// SetUserAccess merges change into person userID's row for the
// intervention (PUT /api/intervention/{name}). Only the service account of
// the intervention's own client may do so (a service user sponsored by the
// client's owner; the reference's rule), with edit on the person, and a
// link URL must be on an origin the client registered as a redirect URI.
func (s *Service) SetUserAccess(ctx context.Context, name string, userID int64, change UserAccessChange) (*UserIntervention, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if err := change.validate(); err != nil {
		return nil, err
	}
	var out *UserIntervention
	err := s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		iv, err := s.d.Store.GetIntervention(ctx, name)
		if err != nil {
			return err
		}
		cl, err := s.requireInterventionAccount(ctx, iv)
		if err != nil {
			return err
		}
		if err := s.d.Directory.CheckRole(ctx, directory.Edit, userID); err != nil {
			return err
		}
		if change.LinkURL != nil && *change.LinkURL != "" && !originRegistered(*change.LinkURL, cl) {
			return apperr.New(apperr.Invalid, "link_url must be on an origin the intervention's client registered as a redirect URI")
		}
		// The lock serialises concurrent merges for one person, so no
		// field of one is lost to the other.
		if err := s.d.Store.LockUser(ctx, userID); err != nil {
			return err
		}
		ui, err := s.d.Store.GetUserIntervention(ctx, name, userID)
		switch {
		case apperr.Is(err, apperr.NotFound):
			if change.Access == nil {
				return apperr.New(apperr.Invalid, "access is required for a person without a row (forbidden, granted or subscribed)")
			}
			ui = &UserIntervention{Intervention: name, UserID: userID}
		case err != nil:
			return err
		}
		before := ui.Access
		change.apply(ui)
		ui.UpdatedAt = s.cfg.Now().UTC()
		if err := s.d.Store.PutUserIntervention(ctx, ui); err != nil {
			return fmt.Errorf("store access: %w", err)
		}
		out = ui
		if err := s.d.Audit.Record(ctx, audit.Change{Type: audit.InterventionAccessChanged, Subject: audit.UserRef(userID),
			SubjectID: userID, Fields: map[string]any{"intervention": name, "access": string(ui.Access), "was": string(before)},
			Comment: fmt.Sprintf("intervention %s: access of user %d set to %s", name, userID, ui.Access)}); err != nil {
			return fmt.Errorf("record audit event: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// requireInterventionAccount refuses every caller but ward itself and the
// service account of the intervention's own client: a user whose single
// role is service, sponsored by the owner of the client that names the
// intervention. It returns that client.
func (s *Service) requireInterventionAccount(ctx context.Context, iv *Intervention) (*client.Client, error) {
	a := actor.From(ctx)
	if a.Anonymous() {
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	refused := apperr.New(apperr.Forbidden, "only the service account of intervention %s's own client may set a person's access", iv.Name)
	if iv.ClientID == "" {
		if a.System {
			return nil, nil
		}
		return nil, refused
	}
	cl, err := s.d.Clients.GetClient(ctx, iv.ClientID)
	if err != nil {
		return nil, fmt.Errorf("read the intervention's client: %w", err)
	}
	if a.System {
		return cl, nil
	}
	if a.UserID == 0 || cl.OwnerID == 0 || cl.Disabled {
		return nil, refused
	}
	roles, err := s.d.Directory.UserRoles(ctx, a.UserID)
	if err != nil {
		return nil, refused
	}
	if len(roles) != 1 || roles[0] != directory.RoleService {
		return nil, refused
	}
	rels, err := s.d.Directory.Relationships(ctx, a.UserID)
	if err != nil {
		return nil, fmt.Errorf("read the service account's sponsor: %w", err)
	}
	for _, r := range rels {
		if r.UserID == a.UserID && r.Relationship == directory.RelSponsor && r.OtherUserID == cl.OwnerID {
			return cl, nil
		}
	}
	return nil, refused
}

// requireRuleManager is who may read and write an intervention's access
// rules: an administrator (or ward itself), or the intervention's own
// service account as requireInterventionAccount defines it.
func (s *Service) requireRuleManager(ctx context.Context, iv *Intervention) error {
	err := s.requireAdmin(ctx)
	if err == nil || !apperr.Is(err, apperr.Forbidden) {
		return err
	}
	if _, err := s.requireInterventionAccount(ctx, iv); err != nil {
		if apperr.Is(err, apperr.Forbidden) {
			return apperr.New(apperr.Forbidden, "only an administrator or the service account of intervention %s's own client may manage its access rules", iv.Name)
		}
		return err
	}
	return nil
}

// originRegistered reports whether raw's scheme://host[:port] is the
// origin of one of the client's redirect URIs (RULES: "the same
// scheme://host:port the client registered with").
func originRegistered(raw string, cl *client.Client) bool {
	if cl == nil {
		return false
	}
	o := origin(raw)
	return o != "" && slices.ContainsFunc(cl.RedirectURIs, func(r string) bool { return origin(r) == o })
}

func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

func (c *UserAccessChange) validate() error {
	if c.Access != nil {
		switch *c.Access {
		case AccessForbidden, AccessGranted, AccessSubscribed:
		default:
			return apperr.New(apperr.Invalid, "access must be forbidden, granted or subscribed")
		}
	}
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{
		{"card_html", c.CardHTML, MaxCardHTMLLen}, {"link_label", c.LinkLabel, MaxLinkLabelLen},
		{"status_text", c.StatusText, MaxStatusTextLen}, {"staff_html", c.StaffHTML, MaxStaffHTMLLen},
	} {
		if f.v != nil {
			if err := checkText(f.name, *f.v, f.max); err != nil {
				return err
			}
		}
	}
	if c.LinkURL != nil {
		return CheckLinkURL("link_url", *c.LinkURL)
	}
	return nil
}

func (c *UserAccessChange) apply(ui *UserIntervention) {
	if c.Access != nil {
		ui.Access = *c.Access
	}
	for _, f := range []struct {
		dst *string
		v   *string
	}{{&ui.CardHTML, c.CardHTML}, {&ui.LinkLabel, c.LinkLabel}, {&ui.LinkURL, c.LinkURL},
		{&ui.StatusText, c.StatusText}, {&ui.StaffHTML, c.StaffHTML}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
}
