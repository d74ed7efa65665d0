package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"ward/internal/apperr"
	"ward/internal/httpauth"
)

// This file is the one place where errors become HTTP responses. Every
// response that is not a success is an RFC 9457 problem document
// (application/problem+json), whether the error came from a handler (an
// apperr), or from huma itself (unparseable JSON, a body that does not fit
// the schema, a body over the size limit).
//
// Status choices:
//
//	apperr.Invalid         400  (huma's own 422 schema failures are folded into 400
//	                             too, so a client sees one status for bad input)
//	apperr.Unauthenticated 401
//	apperr.Forbidden       403
//	apperr.NotFound        404
//	apperr.Conflict        409
//	apperr.TooLarge        413
//	apperr.RateLimited     429
//	apperr.Unavailable     503  (with Retry-After: the database was unreachable for a moment)
//	apperr.Internal        500  (generic message; the cause is logged, never shown)
//
// We do not replace huma.NewError: it is a package-level variable, and
// changing it would be process-wide mutable state shared with any other huma
// API in the binary (and racy in parallel tests). Instead handlers' errors are
// converted by problem (see register in api.go), and huma's own errors are
// normalised by the middleware and transformer below.

// genericInternal is all a caller learns about an unexpected failure.
const genericInternal = "internal error; the problem has been logged"

// problem converts any error a handler returns into a problem document.
// Errors that already carry an HTTP status (huma errors built by this
// package) pass through; apperr errors are mapped by kind; anything else is
// an internal error whose cause is logged and hidden.
func problem(ctx context.Context, log *slog.Logger, err error) error {
	var he *huma.ErrorModel
	if errors.As(err, &he) {
		return he
	}
	k := apperr.KindOf(err)
	status := httpauth.StatusOf(k)
	if k == apperr.Internal {
		log.ErrorContext(ctx, "api: internal error", "err", err)
		return &huma.ErrorModel{Status: status, Title: http.StatusText(status), Detail: genericInternal}
	}
	em := &huma.ErrorModel{Status: status, Title: http.StatusText(status), Detail: apperr.Message(err)}
	if status == http.StatusUnauthorized {
		// RFC 9110 requires a challenge with every 401.
		return huma.ErrorWithHeaders(em, http.Header{"Www-Authenticate": {`Bearer realm="ward"`}})
	}
	if status == http.StatusServiceUnavailable {
		return huma.ErrorWithHeaders(em, http.Header{"Retry-After": {httpauth.RetryAfterUnavailable}})
	}
	return em
}

// errorContext wraps huma's request context so huma's own error statuses
// follow the table above: 422 becomes 400, and a body cut off by an upstream
// http.MaxBytesReader (which huma would report as a 500) becomes 413.
type errorContext struct {
	inner
	tooLarge bool
}

// inner names the embedded huma.Context: embedding huma.Context directly
// would make a field called Context, hiding the interface's Context method.
type inner = huma.Context

// BodyReader notes whether the upstream size limit was hit while huma reads.
func (c *errorContext) BodyReader() io.Reader {
	r := c.inner.BodyReader()
	if r == nil {
		return nil
	}
	return &limitSpy{r: r, hit: &c.tooLarge}
}

// SetStatus rewrites the statuses huma picks for its own errors.
func (c *errorContext) SetStatus(code int) {
	c.inner.SetStatus(c.normalise(code))
}

func (c *errorContext) normalise(code int) int {
	switch {
	case code == http.StatusUnprocessableEntity:
		return http.StatusBadRequest
	case code == http.StatusInternalServerError && c.tooLarge:
		return http.StatusRequestEntityTooLarge
	}
	return code
}

// limitSpy records an *http.MaxBytesError from the wrapped reader.
type limitSpy struct {
	r   io.Reader
	hit *bool
}

func (s *limitSpy) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	var mbe *http.MaxBytesError
	if err != nil && errors.As(err, &mbe) {
		*s.hit = true
	}
	return n, err
}

// Close closes the wrapped reader when it can be closed, as huma expects.
func (s *limitSpy) Close() error {
	if c, ok := s.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// errorMiddleware installs errorContext for every operation, and marks
// every answer uncacheable: these responses carry personal health data.
func errorMiddleware(ctx huma.Context, next func(huma.Context)) {
	ctx.SetHeader("Cache-Control", "no-store")
	next(&errorContext{inner: ctx})
}

// errorTransformer makes the body of huma's own problem documents agree with
// the status errorContext sends, names the first problem in detail (so a
// client that shows only detail still learns what was wrong), drops echoed
// request bodies, and strips 500s down to the generic message (huma puts the
// raw Go error text there, which may name internals).
func errorTransformer(log *slog.Logger) huma.Transformer {
	return func(ctx huma.Context, _ string, v any) (any, error) {
		em, ok := v.(*huma.ErrorModel)
		if !ok {
			return v, nil
		}
		out := *em
		if ec, ok := ctx.(*errorContext); ok {
			out.Status = ec.normalise(em.Status)
		} else if em.Status == http.StatusUnprocessableEntity {
			out.Status = http.StatusBadRequest
		}
		if out.Status != em.Status {
			out.Title = http.StatusText(out.Status)
		}
		switch out.Status {
		case http.StatusRequestEntityTooLarge:
			if em.Status == http.StatusInternalServerError {
				out.Detail, out.Errors = "request body is too large", nil
			}
			return &out, nil
		case http.StatusInternalServerError:
			if em.Detail != genericInternal || len(em.Errors) > 0 {
				log.ErrorContext(ctx.Context(), "api: internal error", "detail", em.Detail, "errors", em.Errors)
			}
			return &huma.ErrorModel{Status: out.Status, Title: out.Title, Detail: genericInternal}, nil
		}
		if len(em.Errors) > 0 {
			out.Errors = make([]*huma.ErrorDetail, 0, len(em.Errors))
			for _, d := range em.Errors {
				if d == nil {
					continue
				}
				c := *d
				if c.Location == "body" || strings.HasPrefix(c.Location, "body.") {
					// huma echoes body values, sometimes the whole body; the
					// client already has it, and it may hold a password.
					c.Value = nil
				}
				out.Errors = append(out.Errors, &c)
			}
			if len(out.Errors) > 0 && em.Detail == "validation failed" {
				first := out.Errors[0]
				out.Detail = "validation failed: " + first.Message
				if first.Location != "" {
					out.Detail += " (" + first.Location + ")"
				}
			}
		}
		return &out, nil
	}
}
