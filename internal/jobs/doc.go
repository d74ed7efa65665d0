// Package jobs runs ward's background work as River jobs, so that each job
// runs once across replicas, survives a restart, and is retried when it
// fails: the periodic maintenance (token janitor, signing-key rotation,
// session purge) and, later, the jobs other packages insert inside their own
// transactions (webhook delivery, bulk export).
//
// River keeps its state in ward's database, next to ward's tables: Migrate
// creates its tables (after ward's own migrations), Runner works the jobs.
// On both databases River talks to the database through ward's database/sql
// writer pool, so a job inserted with InsertTx commits or rolls back with the
// caller's transaction: the River transaction type is *sql.Tx on SQLite and
// PostgreSQL alike (drivers riversqlite and riverdatabasesql). On PostgreSQL
// River also holds one pgx connection of its own for LISTEN, so a new job,
// a leadership change or a queue pause reaches every replica at once rather
// than at the next poll.
//
// Other packages add their own job kinds through Deps.Register and, for
// scheduled ones (the bulk-export cleanup), Deps.Periodic.
//
// Periodic jobs are enqueued by the elected leader only (River's leader
// election), and each is a unique job per half interval, so a leader change
// or a crash loop cannot pile up runs. Every job the package defines is
// idempotent: running one twice does no harm. Jobs act as the system actor.
package jobs
