// Package secrets holds ward's cryptography for secrets at rest: argon2id
// password hashing, random tokens and their SHA-256 / HMAC signatures, the
// master key, and tink AEAD keysets that encrypt what must be read back
// (upstream tokens, signing keys). Nothing here touches storage or HTTP.
package secrets
