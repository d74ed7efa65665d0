// Package mail sends ward's outgoing email: an outbox of messages stored
// one row per recipient, in the caller's transaction, and delivered
// afterwards by a River job through a Transport (SMTP when configured).
//
// A message is stored before anything is sent, so what was asked for is
// on record even when delivery fails or no transport is configured (the
// row then says not_sent). Delivery is at least once: a job whose send
// succeeded but whose status update was lost sends again on retry.
//
// Bodies may carry health information: nothing in this package logs a
// subject or a body, only message ids, recipients' user ids and outcomes.
package mail
