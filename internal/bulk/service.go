package bulk

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/blob"
	"ward/internal/directory"
	"ward/internal/fhir"
	"ward/internal/store"
)

// JobInserter inserts a job in the caller's transaction; *jobs.Runner
// satisfies it.
type JobInserter interface {
	InsertTx(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Deps are the Service's collaborators; every one is required.
type Deps struct {
	Store  Store
	Tx     store.Transactor
	Blobs  blob.Store
	Source Source
	Groups Groups
	Audit  audit.Recorder
	Jobs   JobInserter
	Engine *Engine
	// Roles, optional, lets administrators see and cancel every export
	// (List, Get, Count, Cancel without a client): without it only ward
	// itself may.
	Roles directory.RoleReader
}

// Config tunes the Service. Zero fields take the defaults.
type Config struct {
	// BaseURL is the public FHIR base ("https://ward.example/fhir"): a
	// patient reference in a kick-off must be on it. Required.
	BaseURL string
	// MaxPerClient caps a client's accepted and in-progress exports
	// (WARD_EXPORT_MAX_PER_CLIENT); default 3.
	MaxPerClient int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Service is what a client may do with exports: kick one off, follow it,
// cancel it and read its files. It decides (access.go) and writes (the
// export row, its audit event and its River job in one transaction); the
// protocol that calls it is internal/fhir/rest, the job that runs an
// export is the Engine.
type Service struct {
	d   Deps
	cfg Config
	log *slog.Logger
}

// NewService wires a Service.
func NewService(d Deps, cfg Config) (*Service, error) {
	if d.Store == nil || d.Tx == nil || d.Blobs == nil || d.Source == nil || d.Groups == nil || d.Audit == nil ||
		d.Jobs == nil || d.Engine == nil {
		return nil, errors.New("bulk: the service needs a store, transactor, blob store, source, groups, audit log, job inserter and engine")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bulk: base URL %q is not an absolute http(s) URL", cfg.BaseURL)
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.MaxPerClient <= 0 {
		cfg.MaxPerClient = 3
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{d: d, cfg: cfg, log: cfg.Logger.With(slog.String("component", "bulk"))}, nil
}

// KickOff is a kick-off request as the protocol read it.
type KickOff struct {
	Level Level
	// GroupID is the Group exported, for LevelGroup.
	GroupID string
	// Values are the kick-off parameters but patient: a GET's query, or
	// what DecodeParameters read from a POST's Parameters body.
	Values url.Values
	// Patients are the patient parameter's references (a POST's only);
	// nil when not given.
	Patients []string
	// Lenient is Prefer: handling=lenient: unknown parameters are ignored
	// (and reported) instead of refused.
	Lenient bool
	// RequestURL is the kick-off URL under the public base, echoed as the
	// manifest's request.
	RequestURL string
}

// MayKickOff decides whether the caller may kick off an export at level,
// before anything of the request is read.
func (s *Service) MayKickOff(ctx context.Context, level Level) error {
	return authorizeLevel(actor.From(ctx), level)
}

// KickOff checks k, decides which types the caller exports, and stores the
// export, its audit event and its job in one transaction. It returns the
// accepted export and the parameters ignored under Lenient. A client at its
// cap of running exports is apperr.RateLimited.
func (s *Service) KickOff(ctx context.Context, k KickOff) (*Export, []Ignored, error) {
	a := actor.From(ctx)
	if err := authorizeLevel(a, k.Level); err != nil {
		return nil, nil, err
	}
	if k.Values.Has(paramPatient) {
		return nil, nil, apperr.New(apperr.Invalid, "%s is accepted only in a POST Parameters body", paramPatient)
	}
	level, groupID := k.Level, k.GroupID
	cands := s.candidates(level)
	req, err := parseRequest(level, groupID, k.Values, k.Patients, cands, k.Lenient, s.cfg.BaseURL)
	if err != nil {
		return nil, nil, err
	}
	var filterTypes []string
	for t := range req.Filters {
		filterTypes = append(filterTypes, t)
	}
	slices.Sort(filterTypes)
	types, err := authorizeTypes(a, req.Types, cands, filterTypes)
	if err != nil {
		return nil, nil, err
	}
	id, err := newID()
	if err != nil {
		return nil, nil, err
	}
	ex := &Export{
		ID: id, ClientID: a.ClientID, UserID: a.UserID, Level: level, GroupID: groupID, Types: types,
		Since: req.Since, TypeFilters: req.TypeFilters, Patients: req.Patients, OutputFormat: OutputFormat,
		Status: StatusAccepted, RequestURL: k.RequestURL, CreatedAt: s.cfg.Now().UTC().Truncate(time.Microsecond),
	}
	if level == LevelGroup {
		if err := s.resolveGroup(ctx, ex); err != nil {
			return nil, nil, err
		}
	}
	if err := s.reportIgnored(ctx, ex, req.Ignored); err != nil {
		_ = s.d.Blobs.DeletePrefix(context.WithoutCancel(ctx), prefix(ex.ID))
		return nil, nil, err
	}
	err = s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		n, err := s.d.Store.CountActiveExports(ctx, a.ClientID)
		if err != nil {
			return err
		}
		if n >= s.cfg.MaxPerClient {
			return apperr.New(apperr.RateLimited, "at most %d exports may run at once per client; wait for one to finish", s.cfg.MaxPerClient)
		}
		if err := s.d.Store.CreateExport(ctx, ex); err != nil {
			return err
		}
		comment := fmt.Sprintf("bulk export %s started: %s level, types %s", ex.ID, level, strings.Join(types, ","))
		if level == LevelGroup {
			comment += ", group " + groupID
		}
		if err := s.d.Audit.Record(ctx, audit.Change{Type: audit.ExportKickedOff, Subject: audit.Ref("Export", ex.ID),
			Fields: map[string]any{"level": level, "types": types, "group": groupID}, Comment: comment}); err != nil {
			return err
		}
		_, err = s.d.Jobs.InsertTx(ctx, exportArgs{ExportID: ex.ID}, s.d.Engine.insertOpts())
		return err
	})
	if err != nil {
		if len(ex.Errors) > 0 {
			_ = s.d.Blobs.DeletePrefix(context.WithoutCancel(ctx), prefix(ex.ID))
		}
		return nil, nil, err
	}
	return ex, req.Ignored, nil
}

// candidates are the types an export at level may include.
func (s *Service) candidates(level Level) []string {
	all := s.d.Source.Types()
	if level == LevelSystem {
		return slices.Clone(all)
	}
	var out []string
	for _, t := range all {
		if s.d.Source.InPatientCompartment(t) {
			out = append(out, t)
		}
	}
	return out
}

// reportIgnored writes one OperationOutcome line per parameter ignored
// under Prefer: handling=lenient to an error file of ex, so the manifest's
// error array tells the client what was not honoured (Bulk Data 2.0
// SHOULD), not only the kick-off answer it may not keep.
func (s *Service) reportIgnored(ctx context.Context, ex *Export, ignored []Ignored) error {
	if len(ignored) == 0 {
		return nil
	}
	var buf []byte
	for _, ig := range ignored {
		line, err := json.Marshal(fhir.NewOperationOutcome("warning", "not-supported", ig.Why, ig.Name))
		if err != nil {
			return fmt.Errorf("encode error file: %w", err)
		}
		buf = append(append(buf, line...), '\n')
	}
	name := "OperationOutcome-ignored.ndjson"
	info, err := writeBlob(ctx, s.d.Blobs, prefix(ex.ID)+"/"+name, buf)
	if err != nil {
		return err
	}
	ex.Errors = append(ex.Errors, File{Type: "OperationOutcome", Name: name, Key: info.Key, Count: int64(len(ignored)), Size: info.Size})
	return nil
}

// resolveGroup fixes a Group export's patients: the members, or those of
// the patient parameter that are members. Requested patients who are not
// members are reported in an error file, as Bulk Data 2.0 asks.
func (s *Service) resolveGroup(ctx context.Context, ex *Export) error {
	members, err := s.d.Groups.GroupMembers(ctx, ex.GroupID)
	if err != nil {
		return err
	}
	if members == nil {
		members = []int64{}
	}
	if ex.Patients == nil {
		ex.Patients = members
		return nil
	}
	var in []int64
	var out []string
	for _, p := range ex.Patients {
		if slices.Contains(members, p) {
			in = append(in, p)
		} else {
			out = append(out, "Patient/"+strconv.FormatInt(p, 10))
		}
	}
	if in == nil {
		in = []int64{}
	}
	ex.Patients = in
	if len(out) == 0 {
		return nil
	}
	oo := fhir.NewOperationOutcome("error", "not-found",
		fmt.Sprintf("not members of Group/%s, so not exported: %s", ex.GroupID, strings.Join(out, ", ")), paramPatient)
	line, err := json.Marshal(oo)
	if err != nil {
		return fmt.Errorf("encode error file: %w", err)
	}
	name := "OperationOutcome-patient.ndjson"
	info, err := writeBlob(ctx, s.d.Blobs, prefix(ex.ID)+"/"+name, append(line, '\n'))
	if err != nil {
		return err
	}
	ex.Errors = append(ex.Errors, File{Type: "OperationOutcome", Name: name, Key: info.Key, Count: 1, Size: info.Size})
	return nil
}

// newID returns a random (version 4) UUID.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("bulk: random export id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// validID keeps a path id to the UUID alphabet before it reaches the store
// or a blob key.
func validID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == '-') {
			return false
		}
	}
	return true
}

// lookup finds the export id, as the caller may see it.
func (s *Service) lookup(ctx context.Context, id string) (*Export, error) {
	a := actor.From(ctx)
	if err := requireClient(a); err != nil {
		return nil, err
	}
	if !validID(id) {
		return nil, apperr.New(apperr.NotFound, "export not found")
	}
	ex, err := s.d.Store.GetExport(ctx, id)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return nil, apperr.New(apperr.NotFound, "export not found")
		}
		return nil, err
	}
	return ex, nil
}

// gone reports whether a client may no longer see ex: cancelled, or past
// its expiry (the cleanup job may not have run yet).
func (s *Service) gone(ex *Export) bool {
	return ex.Status == StatusCancelled || !ex.ExpiresAt.IsZero() && !s.cfg.Now().Before(ex.ExpiresAt)
}

// Status returns the export id for the caller to follow: only its own
// client sees it, with a status or $export scope, until it is cancelled or
// expires (apperr.NotFound after).
func (s *Service) Status(ctx context.Context, id string) (*Export, error) {
	ex, err := s.lookup(ctx, id)
	if err == nil {
		err = authorizeStatus(actor.From(ctx), ex)
	}
	if err == nil && s.gone(ex) {
		err = apperr.New(apperr.NotFound, "export not found")
	}
	if err != nil {
		return nil, err
	}
	return ex, nil
}

// Cancel cancels the export id with its audit event, and deletes its
// files. A client may as for Status; a person with no client (the admin
// console) may when they are an administrator (requireAdmin).
func (s *Service) Cancel(ctx context.Context, id string) error {
	var ex *Export
	var err error
	if a := actor.From(ctx); a.ClientID == "" && !a.Anonymous() {
		ex, err = s.Get(ctx, id)
		if err == nil && s.gone(ex) {
			err = apperr.New(apperr.NotFound, "export not found")
		}
	} else {
		ex, err = s.Status(ctx, id)
	}
	if err != nil {
		return err
	}
	// A running job checkpoints concurrently; on a version clash, read the
	// export again and retry.
	for range 5 {
		err = s.d.Tx.InTx(ctx, func(ctx context.Context) error {
			now := s.cfg.Now()
			ex.Status, ex.CompletedAt, ex.ExpiresAt = StatusCancelled, now, now
			if err := s.d.Store.UpdateExport(ctx, ex); err != nil {
				return err
			}
			return s.d.Audit.Record(ctx, audit.Change{Type: audit.ExportCancelled, Subject: audit.Ref("Export", ex.ID),
				Comment: fmt.Sprintf("bulk export %s cancelled", ex.ID)})
		})
		if !apperr.Is(err, apperr.Conflict) {
			break
		}
		if ex, err = s.d.Store.GetExport(ctx, ex.ID); err != nil {
			break
		}
		if s.gone(ex) {
			err = apperr.New(apperr.NotFound, "export not found")
			break
		}
	}
	if err != nil {
		return err
	}
	// Files go now; a job still running removes what it writes after this
	// once it sees the cancel, and the cleanup job removes the row.
	if err := s.d.Blobs.DeletePrefix(ctx, prefix(ex.ID)); err != nil {
		s.log.ErrorContext(ctx, "delete files of a cancelled export", slog.String("export", ex.ID), slog.Any("err", err))
	}
	return nil
}

// OpenFile opens the file name of the completed export id for the caller
// to download, with its blob Info; the caller closes it. The download is a
// read of patient data: it is audited before it is returned, and refused
// if the audit cannot be written.
func (s *Service) OpenFile(ctx context.Context, id, name string) (io.ReadSeekCloser, blob.Info, error) {
	a := actor.From(ctx)
	ex, err := s.lookup(ctx, id)
	if err == nil {
		err = authorizeOwner(a, ex)
	}
	if err == nil && (s.gone(ex) || ex.Status != StatusCompleted) {
		err = apperr.New(apperr.NotFound, "file not found")
	}
	var f *File
	isError := false
	if err == nil {
		for li, list := range [][]File{ex.Output, ex.Errors} {
			for i := range list {
				if list[i].Name == name {
					f, isError = &list[i], li == 1
				}
			}
		}
		if f == nil {
			err = apperr.New(apperr.NotFound, "file not found")
		}
	}
	if err == nil {
		err = authorizeFile(a, ex, f, isError)
	}
	if err != nil {
		return nil, blob.Info{}, err
	}
	rc, info, err := s.d.Blobs.Open(ctx, f.Key)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			err = apperr.New(apperr.NotFound, "file not found")
		}
		return nil, blob.Info{}, err
	}
	if err := s.d.Audit.Record(ctx, audit.Change{Type: audit.ExportDownloaded, Subject: audit.Ref("Export", ex.ID),
		Fields:  map[string]any{"file": f.Name, "count": f.Count, "type": f.Type},
		Comment: fmt.Sprintf("bulk export %s: file %s downloaded (%d %s resources)", ex.ID, f.Name, f.Count, f.Type)}); err != nil {
		rc.Close()
		return nil, blob.Info{}, err
	}
	return rc, info, nil
}

// The administrators' view of exports (the admin console). Bulk Data's own
// rule (access.go) lets a client see only its own exports, through their
// status URLs; these methods answer to people instead: ward itself and
// administrators (directory.RequireAdmin) see every export, whoever kicked
// it off, and everyone else is refused, clients acting for nobody too. A
// person is not shown "their own" exports: an export belongs to the client
// that kicked it off, not to the person behind its token.

// requireAdmin is directory.RequireAdmin; without Deps.Roles only ward
// itself passes.
func (s *Service) requireAdmin(ctx context.Context) error {
	if s.d.Roles == nil {
		if actor.From(ctx).System {
			return nil
		}
		return apperr.New(apperr.Forbidden, "only ward itself may see every bulk export here")
	}
	return directory.RequireAdmin(ctx, s.d.Roles, "see every bulk export")
}

// List pages through every export, newest first, for an administrator.
func (s *Service) List(ctx context.Context, p store.Page) ([]*Export, string, error) {
	if err := s.requireAdmin(ctx); err != nil {
		return nil, "", err
	}
	out, next, err := s.d.Store.ListExports(ctx, p.Normalize())
	if err != nil {
		return nil, "", fmt.Errorf("list exports: %w", err)
	}
	return out, next, nil
}

// Count counts every stored export, for an administrator.
func (s *Service) Count(ctx context.Context) (int, error) {
	if err := s.requireAdmin(ctx); err != nil {
		return 0, err
	}
	n, err := s.d.Store.CountExports(ctx)
	if err != nil {
		return 0, fmt.Errorf("count exports: %w", err)
	}
	return n, nil
}

// Get returns the export id for an administrator, in any state (a
// cancelled or expired one too, until the cleanup job deletes it).
func (s *Service) Get(ctx context.Context, id string) (*Export, error) {
	if err := s.requireAdmin(ctx); err != nil {
		return nil, err
	}
	if !validID(id) {
		return nil, apperr.New(apperr.NotFound, "export not found")
	}
	ex, err := s.d.Store.GetExport(ctx, id)
	if apperr.Is(err, apperr.NotFound) {
		return nil, apperr.New(apperr.NotFound, "export not found")
	}
	if err != nil {
		return nil, fmt.Errorf("get export %s: %w", id, err)
	}
	return ex, nil
}
