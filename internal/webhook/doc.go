// Package webhook tells other systems what changed in ward: a system client
// subscribes a URL to typed event types (the registry in internal/audit),
// and ward POSTs each matching event there, signed per the Standard
// Webhooks convention, at least once, in order per subject.
//
// The outbox is the audit chain. Every typed event is appended to the
// audit trail inside the transaction of the change it describes (see
// audit.Recorder), so a committed change always has its event and a
// rolled-back change never emits one. The dispatcher tails the chain from
// a stored cursor and writes one delivery per matching subscription
// (a disabled one too: its deliveries wait, so enabling it again loses
// nothing), with the body as it will be sent: references always, the
// changed fields only when the subscriber's scopes let it read the
// subject's resource type. The delivery worker (a River job per
// subscription) sends due deliveries through the outbound client (SSRF
// guard, timeout, no redirects), one subject at a time in id order and
// subjects in parallel, retries a failure with capped exponential backoff
// and jitter, and disables the subscription after a configured run of
// consecutive failures. Nothing is dropped: a disabled subscription keeps
// its pending deliveries, and re-enabling it sends them.
//
// The same signature (Sign) covers the integration tokens ward pushes.
package webhook
