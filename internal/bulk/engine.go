package bulk

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/blob"
	"ward/internal/fhir"
	"ward/internal/jobs"
)

// Job kinds. They are stored in river_job: never rename one.
const (
	KindExport  = "bulk_export"
	KindCleanup = "bulk_export_cleanup"
)

// EngineConfig tunes the export job. Zero fields take the defaults.
type EngineConfig struct {
	// LinesPerFile starts a type's next file after this many resources
	// (WARD_EXPORT_FILE_LINES); default 100000.
	LinesPerFile int
	// Retention keeps a finished export's files this long
	// (WARD_EXPORT_RETENTION); default 24h.
	Retention time.Duration
	// CleanupEvery is how often the cleanup job runs; default 10 minutes.
	CleanupEvery time.Duration
	// Slice bounds one run of an export job; default 30 minutes. A job still
	// going at the end of its slice snoozes (no attempt is used up) and the
	// next run resumes from the last checkpoint. Keeping each run well
	// under River's stuck-job rescue time (an hour) means River never starts
	// a second worker on an export that is still being written, while a job
	// whose process was killed is rescued and resumed.
	Slice time.Duration
	// MaxAttempts is how often an export job is tried before the export is
	// marked failed; default 5.
	MaxAttempts int
	// TempMaxAge is how long a temporary file in the blob store may go
	// untouched before the cleanup job takes it for the leftover of a
	// crashed write and removes it; default twice RunTimeout(Slice), at
	// least an hour. It must exceed RunTimeout(Slice): an export's part
	// file is written by one run, which never lasts longer, so a live
	// export's temporary file is never swept.
	TempMaxAge time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (c EngineConfig) withDefaults() EngineConfig {
	if c.LinesPerFile <= 0 {
		c.LinesPerFile = 100000
	}
	if c.Retention <= 0 {
		c.Retention = 24 * time.Hour
	}
	if c.CleanupEvery <= 0 {
		c.CleanupEvery = 10 * time.Minute
	}
	if c.Slice <= 0 {
		c.Slice = 30 * time.Minute
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.TempMaxAge <= 0 {
		c.TempMaxAge = max(2*RunTimeout(c.Slice), time.Hour)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Engine runs export jobs and the cleanup. Build it with NewEngine, add
// its workers to the River runner with Register and its schedule with
// Periodic.
type Engine struct {
	store  Store
	blobs  blob.Store
	source Source
	cfg    EngineConfig
	log    *slog.Logger
}

// NewEngine wires an Engine; every dependency is required.
func NewEngine(st Store, blobs blob.Store, src Source, cfg EngineConfig) (*Engine, error) {
	if st == nil || blobs == nil || src == nil {
		return nil, errors.New("bulk: the engine needs a store, a blob store and a source")
	}
	cfg = cfg.withDefaults()
	if cfg.TempMaxAge <= RunTimeout(cfg.Slice) {
		return nil, fmt.Errorf("bulk: temporary files may be swept after %s, sooner than an export run may last (%s)",
			cfg.TempMaxAge, RunTimeout(cfg.Slice))
	}
	return &Engine{store: st, blobs: blobs, source: src, cfg: cfg, log: cfg.Logger.With(slog.String("component", "bulk"))}, nil
}

// exportArgs is the export job: which export to run.
type exportArgs struct {
	ExportID string `json:"export_id"`
}

func (exportArgs) Kind() string { return KindExport }

type cleanupArgs struct{}

func (cleanupArgs) Kind() string { return KindCleanup }

// Register adds the export and cleanup workers (jobs.Deps.Register).
func (e *Engine) Register(w *river.Workers) error {
	return errors.Join(
		river.AddWorkerSafely(w, &exportWorker{e: e}),
		river.AddWorkerSafely(w, &cleanupWorker{e: e}),
	)
}

// Periodic is the cleanup schedule (jobs.Deps.Periodic).
func (e *Engine) Periodic() []jobs.Periodic {
	return []jobs.Periodic{{Args: cleanupArgs{}, Every: e.cfg.CleanupEvery}}
}

// insertOpts are the export job's options, set at kick-off.
func (e *Engine) insertOpts() *river.InsertOpts {
	return &river.InsertOpts{MaxAttempts: e.cfg.MaxAttempts}
}

type exportWorker struct {
	river.WorkerDefaults[exportArgs]
	e *Engine
}

// MaxSliceGrace is how long past its slice a run may take, at most, to
// notice and stop; a slice shorter than it gets its own length.
const MaxSliceGrace = 5 * time.Minute

// RunTimeout is the longest one run of an export job with this slice may
// take: River rescues a job only after this long (or its own rescue
// delay, whichever is longer), so it bounds how soon a crashed replica's
// export resumes.
func RunTimeout(slice time.Duration) time.Duration { return slice + min(slice, MaxSliceGrace) }

func (w *exportWorker) Timeout(*river.Job[exportArgs]) time.Duration {
	return RunTimeout(w.e.cfg.Slice)
}

// Work runs one slice of the export. At the end of the slice, or when the
// runner shuts down, it snoozes so the next run resumes without using an
// attempt. An error is retried by River, resuming from the last checkpoint;
// the last attempt's error fails the export.
func (w *exportWorker) Work(ctx context.Context, job *river.Job[exportArgs]) error {
	ctx = actor.System(ctx)
	sctx, cancel := context.WithTimeout(ctx, w.e.cfg.Slice)
	defer cancel()
	err := w.e.Run(sctx, job.Args.ExportID)
	if err == nil {
		return nil
	}
	if sctx.Err() != nil {
		// Interrupted, not failed: the slice ran out or River is stopping.
		return river.JobSnooze(0)
	}
	w.e.log.ErrorContext(ctx, "bulk export attempt failed", slog.String("export", job.Args.ExportID),
		slog.Int("attempt", job.Attempt), slog.Any("err", err))
	if job.Attempt >= job.MaxAttempts {
		if ferr := w.e.fail(ctx, job.Args.ExportID, "the export failed; the problem has been logged"); ferr != nil {
			return errors.Join(err, ferr)
		}
		return nil
	}
	return err
}

type cleanupWorker struct {
	river.WorkerDefaults[cleanupArgs]
	e *Engine
}

// Work deletes the expired exports, then sweeps the blob store's temporary
// files; a failure of one does not skip the other. The job runs when the
// runner starts (RunOnStart) and then every CleanupEvery, so what a crash
// left behind goes at the next start.
func (w *cleanupWorker) Work(ctx context.Context, _ *river.Job[cleanupArgs]) error {
	ctx = actor.System(ctx)
	n, err := w.e.Cleanup(ctx)
	if err != nil {
		err = fmt.Errorf("delete expired exports: %w", err)
	}
	swept, serr := w.e.SweepTemp(ctx)
	if serr != nil {
		serr = fmt.Errorf("sweep temporary files: %w", serr)
	}
	if err := errors.Join(err, serr); err != nil {
		return err
	}
	w.e.log.InfoContext(ctx, "bulk export cleanup ran", slog.Int("exports_deleted", n),
		slog.Int("temp_files_swept", swept))
	return nil
}

// TempSweeper is a blob store that can remove what interrupted writes left
// in its temporary area; *blob.Dir is one. A store without a temporary
// area of its own (an object store with multipart uploads that expire)
// need not be.
type TempSweeper interface {
	// CleanTemp removes temporary and orphaned files untouched for
	// olderThan and returns how many.
	CleanTemp(olderThan time.Duration) (int, error)
}

// SweepTemp removes the partial files of writes that were never committed
// or aborted (an export whose process crashed mid-part) once they have gone
// untouched for TempMaxAge, and returns how many. It does nothing on a blob
// store that is not a TempSweeper.
func (e *Engine) SweepTemp(ctx context.Context) (int, error) {
	ts, ok := e.blobs.(TempSweeper)
	if !ok {
		return 0, nil
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return ts.CleanTemp(e.cfg.TempMaxAge)
}

// prefix is the blob prefix holding an export's files.
func prefix(id string) string { return "exports/" + id }

// errStopped means the export was cancelled or deleted while running.
var errStopped = errors.New("bulk: export stopped")

// checkEvery is how many resources the job writes between looks at its
// context and at the export's row (for a cancel).
const checkEvery = 2000

// run is one attempt's state.
type run struct {
	e  *Engine
	ex *Export
}

// Run runs (or resumes) export id to completion. It is what the job does;
// a cancelled or vanished export makes it stop and remove its files.
func (e *Engine) Run(ctx context.Context, id string) error {
	ex, err := e.store.GetExport(ctx, id)
	if apperr.Is(err, apperr.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !ex.Status.Active() {
		if ex.Status == StatusCancelled {
			return e.blobs.DeletePrefix(ctx, prefix(id))
		}
		return nil
	}
	r := &run{e: e, ex: ex}
	if err := r.do(ctx); err != nil {
		if errors.Is(err, errStopped) {
			return e.blobs.DeletePrefix(context.WithoutCancel(ctx), prefix(id))
		}
		return err
	}
	return nil
}

func (r *run) do(ctx context.Context) error {
	ex := r.ex
	if ex.Status == StatusAccepted {
		if ex.Level == LevelPatient && len(ex.Patients) > 0 {
			if err := r.reportUnknownPatients(ctx); err != nil {
				return err
			}
		}
		ex.Status = StatusInProgress
		ex.TransactionTime = r.e.cfg.Now().UTC().Truncate(time.Microsecond)
		if err := r.checkpoint(ctx); err != nil {
			return err
		}
	}
	filters, err := parseFilters(ex.TypeFilters)
	if err != nil {
		return err
	}
	for _, typ := range ex.Types {
		i := r.progress(typ)
		if ex.Progress[i].Done {
			continue
		}
		q := Query{Since: ex.Since, Until: ex.TransactionTime, Patients: ex.Patients, Filters: filters[typ]}
		if err := r.exportType(ctx, i, q); err != nil {
			return err
		}
	}
	now := r.e.cfg.Now()
	ex.Status, ex.CompletedAt, ex.ExpiresAt = StatusCompleted, now, now.Add(r.e.cfg.Retention)
	return r.checkpoint(ctx)
}

// errFound stops a scan at its first resource.
var errFound = errors.New("bulk: found")

// reportUnknownPatients writes an error file naming the patient parameter's
// patients the source does not have, as Bulk Data 2.0 asks. It runs once,
// before the first checkpoint; run again after a crash, it rewrites the
// same file.
func (r *run) reportUnknownPatients(ctx context.Context) error {
	if !slices.Contains(r.e.source.Types(), "Patient") {
		return nil
	}
	var unknown []string
	for _, p := range r.ex.Patients {
		err := r.e.source.Scan(ctx, "Patient", Query{Patients: []int64{p}}, 0, func(int64, any) error { return errFound })
		switch {
		case err == nil:
			unknown = append(unknown, "Patient/"+strconv.FormatInt(p, 10))
		case !errors.Is(err, errFound):
			return fmt.Errorf("look up patient %d: %w", p, err)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	oo := fhir.NewOperationOutcome("error", "not-found",
		"no such patients, so nothing was exported for them: "+strings.Join(unknown, ", "), paramPatient)
	line, err := json.Marshal(oo)
	if err != nil {
		return fmt.Errorf("encode error file: %w", err)
	}
	name := "OperationOutcome-patient.ndjson"
	info, err := writeBlob(ctx, r.e.blobs, prefix(r.ex.ID)+"/"+name, append(line, '\n'))
	if err != nil {
		return err
	}
	r.ex.Errors = append(r.ex.Errors, File{Type: "OperationOutcome", Name: name, Key: info.Key, Count: 1, Size: info.Size})
	return nil
}

// progress returns the index of typ's progress entry, adding it if new.
func (r *run) progress(typ string) int {
	for i, p := range r.ex.Progress {
		if p.Type == typ {
			return i
		}
	}
	r.ex.Progress = append(r.ex.Progress, TypeProgress{Type: typ})
	return len(r.ex.Progress) - 1
}

// checkpoint saves the export's state. A version conflict means someone
// else changed the row: a cancel (errStopped) or a second worker on the same
// export (an error, so that River retries from the saved state).
func (r *run) checkpoint(ctx context.Context) error {
	err := r.e.store.UpdateExport(context.WithoutCancel(ctx), r.ex)
	switch {
	case err == nil:
		return nil
	case apperr.Is(err, apperr.NotFound):
		return errStopped
	case apperr.Is(err, apperr.Conflict):
		cur, gerr := r.e.store.GetExport(ctx, r.ex.ID)
		if apperr.Is(gerr, apperr.NotFound) || gerr == nil && !cur.Status.Active() {
			return errStopped
		}
		return fmt.Errorf("checkpoint export %s: %w", r.ex.ID, err)
	}
	return fmt.Errorf("checkpoint export %s: %w", r.ex.ID, err)
}

// stillWanted looks at the row between checkpoints, so a cancel stops the
// job without waiting for the next file to fill.
func (r *run) stillWanted(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cur, err := r.e.store.GetExport(ctx, r.ex.ID)
	if apperr.Is(err, apperr.NotFound) || err == nil && !cur.Status.Active() {
		return errStopped
	}
	return err
}

// part is the file of one type being written.
type part struct {
	w       blob.Writer
	buf     *bufio.Writer
	enc     *json.Encoder
	name    string
	lines   int64
	lastKey int64
}

// writeLine appends res and the newline that ends an NDJSON line (a
// resource holds no raw newline: JSON escapes them in strings). ward's
// resources marshal themselves, with json.Marshal, into compact JSON; the
// bytes are written as they are, because handing the value to an Encoder
// would scan and compact them a second time (a fifth of an export's CPU).
func writeLine(p *part, res any) error {
	m, ok := res.(json.Marshaler)
	if !ok {
		return p.enc.Encode(res)
	}
	b, err := m.MarshalJSON()
	if err != nil {
		return err
	}
	if bytes.IndexByte(b, '\n') >= 0 {
		// Not compact json.Marshal output after all: take the path that
		// compacts it.
		return p.enc.Encode(res)
	}
	if _, err := p.buf.Write(b); err != nil {
		return err
	}
	return p.buf.WriteByte('\n')
}

// exportType streams one type, resuming after its last checkpoint. Each
// committed file is checkpointed before the next is started, so a crash
// loses at most the file being written, which the next attempt writes again
// from the same key under the same name.
func (r *run) exportType(ctx context.Context, i int, q Query) error {
	ex := r.ex
	typ := ex.Progress[i].Type
	var cur *part
	defer func() {
		if cur != nil {
			_ = cur.w.Abort()
		}
	}()
	commit := func() error {
		if err := cur.buf.Flush(); err != nil {
			return fmt.Errorf("write %s: %w", cur.name, err)
		}
		info, err := cur.w.Commit()
		if err != nil {
			return fmt.Errorf("commit %s: %w", cur.name, err)
		}
		p := &ex.Progress[i]
		p.Parts++
		p.Lines += cur.lines
		p.LastKey = cur.lastKey
		ex.Output = append(ex.Output, File{Type: typ, Name: cur.name, Key: info.Key, Count: cur.lines, Size: info.Size})
		cur = nil
		return r.checkpoint(ctx)
	}
	seen := 0
	err := r.e.source.Scan(ctx, typ, q, ex.Progress[i].LastKey, func(key int64, res any) error {
		if cur == nil {
			name := typ + "-" + strconv.Itoa(ex.Progress[i].Parts+1) + ".ndjson"
			w, err := r.e.blobs.Create(ctx, prefix(ex.ID)+"/"+name, blob.WithContentType(OutputFormat))
			if err != nil {
				return fmt.Errorf("create %s: %w", name, err)
			}
			buf := bufio.NewWriterSize(w, 64<<10)
			enc := json.NewEncoder(buf)
			enc.SetEscapeHTML(false)
			cur = &part{w: w, buf: buf, enc: enc, name: name}
		}
		if err := writeLine(cur, res); err != nil {
			return fmt.Errorf("encode %s key %d: %w", typ, key, err)
		}
		cur.lines++
		cur.lastKey = key
		if cur.lines >= int64(r.e.cfg.LinesPerFile) {
			if err := commit(); err != nil {
				return err
			}
		}
		if seen++; seen%checkEvery == 0 {
			return r.stillWanted(ctx)
		}
		return nil
	})
	if k := apperr.KindOf(err); err != nil && !errors.Is(err, errStopped) && ctx.Err() == nil &&
		k != apperr.Internal && k != apperr.Unavailable {
		// The source refused this type (a filter it cannot apply, say):
		// keep what was written, report the type in an error file and go
		// on with the others, as Bulk Data's error array intends. A lost
		// database connection (Unavailable) is not a refusal: the job
		// fails and River retries it from the last checkpoint.
		if cur != nil {
			if cerr := commit(); cerr != nil {
				return cerr
			}
		}
		return r.typeFailed(ctx, i, err)
	}
	if err != nil {
		return err
	}
	if cur != nil {
		if err := commit(); err != nil {
			return err
		}
	}
	ex.Progress[i].Done = true
	return r.checkpoint(ctx)
}

// typeFailed writes an OperationOutcome error file for type i and marks
// the type done.
func (r *run) typeFailed(ctx context.Context, i int, cause error) error {
	ex := r.ex
	typ := ex.Progress[i].Type
	name := "OperationOutcome-" + typ + ".ndjson"
	oo := fhir.NewOperationOutcome("error", fhir.IssueCode(apperr.KindOf(cause)),
		fmt.Sprintf("%s could not be exported: %s", typ, apperr.Message(cause)))
	line, err := json.Marshal(oo)
	if err != nil {
		return fmt.Errorf("encode error file: %w", err)
	}
	info, err := writeBlob(ctx, r.e.blobs, prefix(ex.ID)+"/"+name, append(line, '\n'))
	if err != nil {
		return err
	}
	ex.Errors = append(ex.Errors, File{Type: "OperationOutcome", Name: name, Key: info.Key, Count: 1, Size: info.Size})
	ex.Progress[i].Done = true
	return r.checkpoint(ctx)
}

// writeBlob stores a small blob in one go.
func writeBlob(ctx context.Context, st blob.Store, key string, data []byte) (blob.Info, error) {
	w, err := st.Create(ctx, key, blob.WithContentType(OutputFormat))
	if err != nil {
		return blob.Info{}, fmt.Errorf("create %s: %w", key, err)
	}
	defer func() { _ = w.Abort() }()
	if _, err := w.Write(data); err != nil {
		return blob.Info{}, fmt.Errorf("write %s: %w", key, err)
	}
	info, err := w.Commit()
	if err != nil {
		return blob.Info{}, fmt.Errorf("commit %s: %w", key, err)
	}
	return info, nil
}

// fail marks export id failed with a message safe to show, unless it has
// finished meanwhile.
func (e *Engine) fail(ctx context.Context, id, msg string) error {
	for range 3 {
		ex, err := e.store.GetExport(ctx, id)
		if apperr.Is(err, apperr.NotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !ex.Status.Active() {
			return nil
		}
		now := e.cfg.Now()
		ex.Status, ex.Failure, ex.CompletedAt, ex.ExpiresAt = StatusFailed, msg, now, now.Add(e.cfg.Retention)
		err = e.store.UpdateExport(ctx, ex)
		if !apperr.Is(err, apperr.Conflict) {
			return err
		}
	}
	return fmt.Errorf("bulk: mark export %s failed: kept changing", id)
}

// cleanupBatch is how many expired exports one cleanup query takes.
const cleanupBatch = 100

// Cleanup deletes the files, then the rows, of every export expired by now
// (finished past their retention, or cancelled), and returns how many.
// Deleting the files first means a crash in between leaves a row that the
// next run deletes again, never files without a row.
func (e *Engine) Cleanup(ctx context.Context) (int, error) {
	n := 0
	for {
		list, err := e.store.ExpiredExports(ctx, e.cfg.Now(), cleanupBatch)
		if err != nil {
			return n, err
		}
		for _, ex := range list {
			if err := e.blobs.DeletePrefix(ctx, prefix(ex.ID)); err != nil {
				return n, fmt.Errorf("delete files of export %s: %w", ex.ID, err)
			}
			if err := e.store.DeleteExport(ctx, ex.ID); err != nil {
				return n, err
			}
			n++
		}
		if len(list) < cleanupBatch {
			return n, nil
		}
	}
}
