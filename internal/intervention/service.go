package intervention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/store"
)

// Roles reads a user's roles (directory.Service.UserRoles: the Service only
// asks about the acting user, which is always allowed).
type Roles interface {
	UserRoles(ctx context.Context, id int64) ([]string, error)
}

// Deps is what the Service needs.
type Deps struct {
	Store Store
	Tx    store.Transactor
	// Directory decides who may act on whom; *directory.Service.
	Directory Directory
	// Clients reads the client acting for an intervention.
	Clients ClientReader
	Audit   audit.Recorder
	// Mail, when set, lets Communicate send (communicate.go).
	Mail Mail
}

// Config tunes the Service. Zero fields take the defaults.
type Config struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Service manages interventions. Only administrators (and ward itself)
// create, read, change or delete their definitions; each change and its
// typed audit event commit together.
type Service struct {
	d     Deps
	cfg   Config
	rules rulesetCache
}

// NewService wires a Service.
func NewService(d Deps, cfg Config) (*Service, error) {
	if d.Store == nil || d.Tx == nil || d.Directory == nil || d.Clients == nil || d.Audit == nil {
		return nil, errors.New("intervention: the service needs a store, transactor, directory, client reader and audit recorder")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{d: d, cfg: cfg}, nil
}

// requireAdmin is the one rule for managing definitions: ward itself or an
// administrator acting as themselves or through a client for themselves
// (directory.RequireAdmin).
func (s *Service) requireAdmin(ctx context.Context) error {
	return directory.RequireAdmin(ctx, s.d.Directory, "manage interventions")
}

// record writes one typed audit event about iv in the transaction in ctx.
// The payload names the settings, never the HTML (it may be large and is
// the intervention's content, not a fact about the change).
func (s *Service) record(ctx context.Context, t audit.EventType, iv *Intervention, comment string) error {
	fields := map[string]any{"name": iv.Name, "public_access": iv.PublicAccess, "display_rank": iv.DisplayRank,
		"link_url": iv.LinkURL}
	if err := s.d.Audit.Record(ctx, audit.Change{Type: t, Subject: audit.Ref("Intervention", iv.Name),
		Fields: fields, Comment: "intervention " + iv.Name + ": " + comment}); err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// Create stores a new intervention. ID, ClientID, times and Version in in
// are ignored.
func (s *Service) Create(ctx context.Context, in Intervention) (*Intervention, error) {
	if err := s.requireAdmin(ctx); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	iv := in
	iv.ID, iv.ClientID, iv.Version = 0, "", 0
	iv.CreatedAt = s.cfg.Now().UTC()
	iv.UpdatedAt = iv.CreatedAt
	err := s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.d.Store.CreateIntervention(ctx, &iv); err != nil {
			if apperr.Is(err, apperr.Conflict) {
				return apperr.Wrap(apperr.Conflict, err, "intervention %q already exists", iv.Name)
			}
			return fmt.Errorf("create intervention: %w", err)
		}
		return s.record(ctx, audit.InterventionCreated, &iv, "created")
	})
	if err != nil {
		return nil, err
	}
	return &iv, nil
}

// Get returns one intervention by name.
func (s *Service) Get(ctx context.Context, name string) (*Intervention, error) {
	if err := s.requireAdmin(ctx); err != nil {
		return nil, err
	}
	if err := CheckName(name); err != nil {
		return nil, err
	}
	return s.d.Store.GetIntervention(ctx, name)
}

// List returns every intervention by display rank, then name.
func (s *Service) List(ctx context.Context) ([]*Intervention, error) {
	if err := s.requireAdmin(ctx); err != nil {
		return nil, err
	}
	return s.d.Store.ListInterventions(ctx)
}

// Update reads the intervention, lets change edit it and writes it back.
// The name is the key and cannot change; version, when not 0, must be the
// stored version (Conflict otherwise), so a client that read an old copy
// does not overwrite a newer one.
func (s *Service) Update(ctx context.Context, name string, version int64, change func(*Intervention) error) (*Intervention, error) {
	if err := s.requireAdmin(ctx); err != nil {
		return nil, err
	}
	if err := CheckName(name); err != nil {
		return nil, err
	}
	var out *Intervention
	err := s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		iv, err := s.d.Store.GetIntervention(ctx, name)
		if err != nil {
			return err
		}
		if version != 0 && version != iv.Version {
			return apperr.New(apperr.Conflict, "intervention %s is at version %d, not %d; reload and retry", name, iv.Version, version)
		}
		if err := change(iv); err != nil {
			return err
		}
		if iv.Name != name {
			return apperr.New(apperr.Invalid, "an intervention's name cannot change")
		}
		if err := iv.Validate(); err != nil {
			return err
		}
		iv.UpdatedAt = s.cfg.Now().UTC()
		if err := s.d.Store.UpdateIntervention(ctx, iv); err != nil {
			return fmt.Errorf("update intervention: %w", err)
		}
		out = iv
		return s.record(ctx, audit.InterventionUpdated, iv, "updated")
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete removes an intervention with every person's access row; the
// client that acted for it then acts for none.
func (s *Service) Delete(ctx context.Context, name string) error {
	if err := s.requireAdmin(ctx); err != nil {
		return err
	}
	if err := CheckName(name); err != nil {
		return err
	}
	return s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		iv, err := s.d.Store.GetIntervention(ctx, name)
		if err != nil {
			return err
		}
		if err := s.d.Store.DeleteIntervention(ctx, name); err != nil {
			return fmt.Errorf("delete intervention: %w", err)
		}
		return s.record(ctx, audit.InterventionDeleted, iv, "deleted")
	})
}
