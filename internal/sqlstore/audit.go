package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"ward/internal/audit"
	"ward/internal/store"
)

const auditColumns = `id, ts, user_id, subject_id, client_id, context, comment, version, prev_hash, hash, ` +
	`event_type, subject, payload, source_ip`

func scanEvent(s scanner) (audit.Event, error) {
	var e audit.Event
	var ts int64
	var c, typ string
	if err := s.Scan(&e.ID, &ts, &e.UserID, &e.SubjectID, &e.ClientID, &c, &e.Comment, &e.Version,
		&e.PrevHash, &e.Hash, &typ, &e.Subject, &e.Payload, &e.SourceIP); err != nil {
		return e, err
	}
	e.Timestamp = fromMicro(ts)
	e.Context = audit.Context(c)
	e.Type = audit.EventType(typ)
	return e, nil
}

// AppendAudit appends e to the chain inside ctx's transaction (or its own):
// it sets e.ID = last id + 1, e.PrevHash = last hash and e.Hash. The head row
// is the serialisation point: PostgreSQL locks it FOR UPDATE, SQLite is
// already serialised by BEGIN IMMEDIATE. Timestamp is truncated to the
// stored microsecond precision (in UTC) before hashing, so Verify recomputes
// the same hash from the stored row.
func (d *DB) AppendAudit(ctx context.Context, e *audit.Event) error {
	return d.AppendAudits(ctx, []*audit.Event{e})
}

// auditInsertChunk is how many events one INSERT of AppendAudits carries.
const auditInsertChunk = 64

// AppendAudits appends es in order: ids and hashes continue the chain from
// the head, which is read (on PostgreSQL locked) once per transaction;
// later appends in it continue from the cached head, and the head row is
// written once, just before the commit (see txState).
func (d *DB) AppendAudits(ctx context.Context, es []*audit.Event) error {
	if len(es) == 0 {
		return nil
	}
	lock := ""
	if d.dialect == Postgres {
		lock = " FOR UPDATE"
	}
	out := make([]audit.Event, len(es))
	err := d.inTx(ctx, func(ctx context.Context, x q) error {
		st := d.state(ctx)
		var lastID int64
		var lastHash string
		if st != nil && st.headKnown {
			lastID, lastHash = st.headID, st.headHash
		} else {
			if err := x.row(ctx, `SELECT last_id, last_hash FROM audit_head WHERE id = 1`+lock).
				Scan(&lastID, &lastHash); err != nil {
				return fmt.Errorf("append audit: read head: %w", err)
			}
		}
		for i, e := range es {
			ev := *e
			ev.Timestamp = fromMicro(toMicro(ev.Timestamp))
			ev.ID, ev.PrevHash = lastID+1, lastHash
			ev.Hash = audit.ComputeHash(&ev)
			lastID, lastHash = ev.ID, ev.Hash
			out[i] = ev
		}
		for start := 0; start < len(out); start += auditInsertChunk {
			if err := d.insertAudits(ctx, x, out[start:min(start+auditInsertChunk, len(out))]); err != nil {
				return err
			}
		}
		if st != nil {
			st.headKnown, st.headDirty, st.headID, st.headHash = true, true, lastID, lastHash
			return nil
		}
		return d.writeHead(ctx, x, lastID, lastHash)
	})
	if err != nil {
		return err
	}
	for i := range es {
		*es[i] = out[i]
	}
	return nil
}

func (d *DB) insertAudits(ctx context.Context, x q, evs []audit.Event) error {
	var b strings.Builder
	b.WriteString(`INSERT INTO audit_events (` + auditColumns + `) VALUES `)
	args := make([]any, 0, 14*len(evs))
	for i, ev := range evs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, ev.ID, toMicro(ev.Timestamp), ev.UserID, ev.SubjectID, ev.ClientID,
			string(ev.Context), ev.Comment, ev.Version, ev.PrevHash, ev.Hash,
			string(ev.Type), ev.Subject, ev.Payload, ev.SourceIP)
	}
	if _, err := x.exec(ctx, b.String(), args...); err != nil {
		return classify(err, "append audit")
	}
	return nil
}

// writeHead moves the audit head.
func (d *DB) writeHead(ctx context.Context, x q, id int64, hash string) error {
	if _, err := x.exec(ctx, `UPDATE audit_head SET last_id = ?, last_hash = ? WHERE id = 1`, id, hash); err != nil {
		return fmt.Errorf("append audit: move head: %w", err)
	}
	return nil
}

// ListAudit returns events matching f in id (chain) order after the cursor.
func (d *DB) ListAudit(ctx context.Context, f audit.Filter, p store.Page) ([]audit.Event, string, error) {
	p = p.Normalize()
	after, err := store.DecodeCursor(p.After)
	if err != nil {
		return nil, "", err
	}
	conds := []string{"id > ?"}
	args := []any{after}
	order := "id"
	if f.Newest {
		// Newest first: the cursor is the oldest id of the last page.
		conds, order = []string{"1 = 1"}, "id DESC"
		args = nil
		if after != 0 {
			conds, args = []string{"id < ?"}, []any{after}
		}
	}
	if f.UserID != 0 {
		conds, args = append(conds, "user_id = ?"), append(args, f.UserID)
	}
	if f.SubjectID != 0 {
		conds, args = append(conds, "subject_id = ?"), append(args, f.SubjectID)
	}
	if f.Involving != 0 {
		conds, args = append(conds, "(user_id = ? OR subject_id = ?)"), append(args, f.Involving, f.Involving)
	}
	if f.Context != "" {
		conds, args = append(conds, "context = ?"), append(args, string(f.Context))
	}
	if f.Type != "" {
		conds, args = append(conds, "event_type = ?"), append(args, string(f.Type))
	}
	if !f.From.IsZero() {
		conds, args = append(conds, "ts >= ?"), append(args, toMicro(f.From))
	}
	if !f.To.IsZero() {
		conds, args = append(conds, "ts < ?"), append(args, toMicro(f.To))
	}
	args = append(args, p.Limit+1)
	evs, err := queryList(ctx, d.rd(ctx), "list audit", scanEvent, `SELECT `+auditColumns+
		` FROM audit_events WHERE `+strings.Join(conds, " AND ")+` ORDER BY `+order+` LIMIT ?`, args...)
	if err != nil {
		return nil, "", err
	}
	return page(evs, p.Limit, func(e audit.Event) int64 { return e.ID })
}

// auditScanBatch is how many events ScanAudit reads per query, so a scan of
// a long chain holds neither a cursor open across fn calls nor the whole
// chain in memory.
const auditScanBatch = 1000

// ScanAudit calls fn for every event after afterID in id order, stopping at
// fn's first error (which it returns).
func (d *DB) ScanAudit(ctx context.Context, afterID int64, fn func(audit.Event) error) error {
	for {
		evs, err := queryList(ctx, d.rd(ctx), "scan audit", scanEvent, `SELECT `+auditColumns+
			` FROM audit_events WHERE id > ? ORDER BY id LIMIT ?`, afterID, auditScanBatch)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := fn(e); err != nil {
				return err
			}
			afterID = e.ID
		}
		if len(evs) < auditScanBatch {
			return nil
		}
	}
}

// AuditHead returns the last event's id and hash (0, "" for an empty chain).
func (d *DB) AuditHead(ctx context.Context) (int64, string, error) {
	if st := d.state(ctx); st != nil && st.headKnown {
		return st.headID, st.headHash, nil
	}
	var id int64
	var hash string
	if err := d.rd(ctx).row(ctx, `SELECT last_id, last_hash FROM audit_head WHERE id = 1`).Scan(&id, &hash); err != nil {
		return 0, "", fmt.Errorf("audit head: %w", err)
	}
	return id, hash, nil
}
