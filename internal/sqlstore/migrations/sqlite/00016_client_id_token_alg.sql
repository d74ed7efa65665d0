-- The algorithm a client registered for its ID tokens
-- (id_token_signed_response_alg, OpenID Connect Dynamic Client Registration
-- section 2). '' is the default, RS256 (OpenID Connect Core section 3.1.3.7),
-- which every client registered before this column existed gets. SQLite
-- dialect; keep in step with ../postgres/00016_client_id_token_alg.sql.

-- +goose Up
ALTER TABLE oauth_clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT '' CHECK (id_token_alg IN ('', 'RS256', 'ES256'));

-- +goose Down
ALTER TABLE oauth_clients DROP COLUMN id_token_alg;
