package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"ward/internal/apperr"
	"ward/internal/oauth/keys"
)

var _ keys.Store = (*DB)(nil)

// CreateSigningKey inserts k as the current key of its algorithm unless one
// exists. The partial unique index signing_keys_current decides, so two
// replicas racing (two transactions on PostgreSQL) cannot both insert: the
// loser's insert waits for the winner's commit, then does nothing.
func (d *DB) CreateSigningKey(ctx context.Context, k *keys.SealedKey) (bool, error) {
	if !k.RetireAfter.IsZero() {
		return false, apperr.New(apperr.Invalid, "create signing key: a new key must be current (no RetireAfter)")
	}
	if len(k.PrivateKey) == 0 {
		return false, apperr.New(apperr.Invalid, "create signing key: no private key")
	}
	created := false
	err := d.inTx(ctx, func(ctx context.Context, x q) error {
		res, err := x.exec(ctx, `INSERT INTO signing_keys (kid, alg, created_at, activated_at, retire_after, private_key)
			VALUES (?, ?, ?, ?, NULL, ?)
			ON CONFLICT (alg) WHERE retire_after IS NULL DO NOTHING`,
			k.KID, k.Alg, toMicro(k.CreatedAt), toMicro(k.ActivatedAt), k.PrivateKey)
		if err != nil {
			return classify(err, "create signing key")
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("create signing key: %w", err)
		}
		if n == 0 {
			return nil
		}
		created = true
		return d.bumpSigningKeysVersion(ctx, x)
	})
	return created, err
}

// RetireSigningKey sets retire_after on alg's current key and returns its kid
// ("" when there was none).
func (d *DB) RetireSigningKey(ctx context.Context, alg string, retireAfter time.Time) (string, error) {
	if retireAfter.IsZero() {
		return "", apperr.New(apperr.Invalid, "retire signing key: no retire time")
	}
	var kid string
	err := d.inTx(ctx, func(ctx context.Context, x q) error {
		err := x.row(ctx, `UPDATE signing_keys SET retire_after = ? WHERE alg = ? AND retire_after IS NULL RETURNING kid`,
			toMicro(retireAfter), alg).Scan(&kid)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return classify(err, "retire signing key")
		}
		return d.bumpSigningKeysVersion(ctx, x)
	})
	return kid, err
}

// ListSigningKeys returns current keys and keys retiring after publishedAt
// (every key when publishedAt is zero), newest activation first.
func (d *DB) ListSigningKeys(ctx context.Context, publishedAt time.Time) ([]keys.SealedKey, error) {
	query := `SELECT kid, alg, created_at, activated_at, retire_after, private_key FROM signing_keys`
	var args []any
	if !publishedAt.IsZero() {
		query += ` WHERE retire_after IS NULL OR retire_after > ?`
		args = append(args, toMicro(publishedAt))
	}
	query += ` ORDER BY activated_at DESC, kid`
	rows, err := d.rd(ctx).query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	defer rows.Close()
	var out []keys.SealedKey
	for rows.Next() {
		var k keys.SealedKey
		var created, activated int64
		var retire sql.NullInt64
		if err := rows.Scan(&k.KID, &k.Alg, &created, &activated, &retire, &k.PrivateKey); err != nil {
			return nil, fmt.Errorf("list signing keys: %w", err)
		}
		k.CreatedAt, k.ActivatedAt = fromMicro(created), fromMicro(activated)
		if retire.Valid {
			k.RetireAfter = fromMicro(retire.Int64)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return out, nil
}

// DeleteRetiredSigningKeys deletes keys retired at or before t and returns
// their kids, sorted.
func (d *DB) DeleteRetiredSigningKeys(ctx context.Context, t time.Time) ([]string, error) {
	var kids []string
	err := d.inTx(ctx, func(ctx context.Context, x q) error {
		rows, err := x.query(ctx, `DELETE FROM signing_keys WHERE retire_after IS NOT NULL AND retire_after <= ? RETURNING kid`,
			toMicro(t))
		if err != nil {
			return classify(err, "delete retired signing keys")
		}
		defer rows.Close()
		for rows.Next() {
			var kid string
			if err := rows.Scan(&kid); err != nil {
				return fmt.Errorf("delete retired signing keys: %w", err)
			}
			kids = append(kids, kid)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("delete retired signing keys: %w", err)
		}
		if len(kids) == 0 {
			return nil
		}
		return d.bumpSigningKeysVersion(ctx, x)
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(kids)
	return kids, nil
}

// SigningKeysVersion returns the counter bumped by every signing key change.
func (d *DB) SigningKeysVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := d.rd(ctx).row(ctx, `SELECT version FROM signing_keys_version WHERE id = 1`).Scan(&v); err != nil {
		return 0, fmt.Errorf("signing keys version: %w", err)
	}
	return v, nil
}

func (d *DB) bumpSigningKeysVersion(ctx context.Context, x q) error {
	if _, err := x.exec(ctx, `UPDATE signing_keys_version SET version = version + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("bump signing keys version: %w", err)
	}
	return nil
}
