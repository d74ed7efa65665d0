package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/oauth/tokens"
)

// Column lists of ReadIDPToken's join, each qualified by its table's alias.
var (
	callerColumns = qualified("c", clientColumns)
	issuerColumns = qualified("ic", clientColumns)
	cardColumns   = qualified("u", userColumns)
)

// qualified prefixes every column of the comma-separated list cols with
// alias (the lists are plain column names).
func qualified(alias, cols string) string {
	fs := strings.Split(cols, ",")
	for i, f := range fs {
		fs[i] = alias + "." + strings.TrimSpace(f)
	}
	return strings.Join(fs, ", ")
}

// ReadIDPToken is the legacy IdP API's token look-up in one statement:
// the calling client's row, the token's (by the (kind, signature) unique
// index), its client's and its person's, all by primary or unique key,
// with the person's groups, profiles and last sign-in aggregated as
// IDCard does. Inner joins: a row is returned only when all four exist,
// else NotFound and the caller falls back to the separate reads, which
// tell the cases apart. Nothing is cached: each part is the row as it is
// now, so a revoked client or token, a rotated secret or a deleted person
// shows at once.
func (d *DB) ReadIDPToken(ctx context.Context, callerID string, kind tokens.Kind, signature string) (*tokens.IDPRead, error) {
	query := `SELECT ` + callerColumns + `, ` + tokenColumnsJoined + `, ` + issuerColumns + `, ` + cardColumns + `,
		` + d.cardAggregates("u.id") + `
		FROM oauth_tokens t
		JOIN users u ON u.id = t.user_id
		JOIN oauth_clients ic ON ic.client_id = t.client_id
		JOIN oauth_clients c ON c.client_id = ?
		WHERE t.kind = ? AND t.signature = ?`
	var (
		out tokens.IDPRead
		agg cardAggregates
		u   *directory.User
		err error
	)
	// Each scan function reads its own columns and decodes them after the
	// one real Scan below returns, so the nesting is only about order:
	// caller, token, issuer, person, then the card's aggregates.
	out.Caller, _, err = scanClient(scanFunc(func(caller ...any) error {
		var err error
		out.Token, err = scanTokenRow(scanFunc(func(token ...any) error {
			var err error
			out.Issuer, _, err = scanClient(scanFunc(func(issuer ...any) error {
				var err error
				u, err = scanUser(scanFunc(func(person ...any) error {
					dest := make([]any, 0, len(caller)+len(token)+len(issuer)+len(person)+3)
					dest = append(append(append(append(dest, caller...), token...), issuer...), person...)
					return d.rd(ctx).row(ctx, query, callerID, string(kind), signature).Scan(append(dest, agg.dest()...)...)
				}))
				return err
			}))
			return err
		}), true)
		return err
	}))
	if errors.Is(err, sql.ErrNoRows) {
		// Neither id nor signature is echoed: the signature identifies a
		// credential.
		return nil, apperr.New(apperr.NotFound, "IdP token look-up: no such client, token or person")
	}
	if err != nil {
		return nil, fmt.Errorf("read IdP token: %w", err)
	}
	if out.Card, err = agg.card(u); err != nil {
		return nil, err
	}
	return &out, nil
}
