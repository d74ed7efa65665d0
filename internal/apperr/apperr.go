// Package apperr is ward's one domain error type. Domain code reports what
// went wrong as a Kind plus a message that is safe to show the caller; each
// edge (problem+json, RFC 6749, OperationOutcome) maps the Kind once.
package apperr

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the edges that translate it.
type Kind int

const (
	// Internal is anything unexpected; its message is never shown.
	Internal Kind = iota
	// Invalid is bad input: malformed, missing or out of range.
	Invalid
	// NotFound means the target does not exist (or the caller may not know it does).
	NotFound
	// Conflict means the change clashes with existing state (duplicate, already held).
	Conflict
	// Unauthenticated means the caller is not signed in or the credential is bad.
	Unauthenticated
	// Forbidden means the caller is known but may not do this.
	Forbidden
	// TooLarge means the request body or upload exceeds its limit.
	TooLarge
	// RateLimited means the caller must wait (lockout, concurrency caps).
	RateLimited
	// Unavailable means a dependency (the database) could not be reached
	// for a moment; the same request may succeed if sent again shortly.
	Unavailable
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case NotFound:
		return "not_found"
	case Conflict:
		return "conflict"
	case Unauthenticated:
		return "unauthenticated"
	case Forbidden:
		return "forbidden"
	case TooLarge:
		return "too_large"
	case RateLimited:
		return "rate_limited"
	case Unavailable:
		return "unavailable"
	default:
		return "internal"
	}
}

// Error is a domain error: a kind, a message safe to show, and an optional cause
// that is logged but never shown.
type Error struct {
	Kind    Kind
	Message string
	Cause   error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Kind, e.Message, e.Cause)
	}
	return fmt.Sprintf("%s: %s", e.Kind, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// New returns an error of kind k with a safe message.
func New(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of kind k with a safe message and a hidden cause.
func Wrap(k Kind, cause error, format string, args ...any) error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...), Cause: cause}
}

// KindOf reports the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err carries kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// Message returns the safe message of err, or a generic one for internal errors.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != Internal {
		return e.Message
	}
	return "internal error"
}
