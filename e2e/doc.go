// Package e2e holds end-to-end tests that build the real ward binary, run it
// on loopback against a fresh database (SQLite, and PostgreSQL when
// WARD_TEST_POSTGRES_URL is set) and drive it the way a new user would.
package e2e
