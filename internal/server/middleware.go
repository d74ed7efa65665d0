package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"ward/internal/actor"
	"ward/internal/httpauth"
)

// RequestIDHeader carries the request id in and out. An id set by a proxy in
// front of ward is kept (when it looks sane) so one id follows a request
// across systems.
const RequestIDHeader = "X-Request-Id"

// reqInfo is filled in as a request travels through the chain and read by
// the outermost middleware once the response is done. It travels by pointer
// because inner middleware copies the request (WithContext) and the route
// pattern is only known after the mux has matched.
type reqInfo struct {
	id      string
	pattern string
}

type reqInfoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	ri, _ := ctx.Value(reqInfoKey{}).(*reqInfo)
	return ri
}

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	if ri := infoFrom(ctx); ri != nil {
		return ri.id
	}
	return ""
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	// 1xx responses (103 Early Hints) precede the real one.
	if code >= 200 && !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Flush supports streaming handlers (bulk export) through the wrapper.
func (w *statusWriter) Flush() {
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// httpMetrics are the per-route request metrics.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ward_http_requests_total",
			Help: "HTTP requests served, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ward_http_request_duration_seconds",
			Help:    "HTTP request latency, by route pattern, method and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "status"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register http metrics: %w", err)
		}
	}
	return m, nil
}

// knownMethods bounds the method label: anything else is "other", so a
// client inventing methods cannot grow the metric set.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// observe is the outermost middleware: it assigns the request id, and once
// the response is done writes the access log line and the metrics.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Latency is measured on the monotonic clock, not the injected
		// business clock (which tests may freeze).
		start := time.Now()
		ri := &reqInfo{id: requestID(r.Header.Get(RequestIDHeader))}
		w.Header().Set(RequestIDHeader, ri.id)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			elapsed := time.Since(start)
			route := ri.pattern
			if route == "" {
				// Unmatched paths share one label (bounded cardinality).
				route = "unmatched"
			}
			method := r.Method
			if !knownMethods[method] {
				method = "other"
			}
			status := strconv.Itoa(sw.status)
			s.metrics.requests.WithLabelValues(route, method, status).Inc()
			s.metrics.duration.WithLabelValues(route, method, status).Observe(elapsed.Seconds())
			// The query string is left out: it can carry tokens and
			// personal data.
			s.o.logger.LogAttrs(r.Context(), slog.LevelInfo, "http request",
				slog.String("request_id", ri.id),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("route", route),
				slog.Int("status", sw.status),
				slog.Int64("bytes", sw.bytes),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
				slog.String("remote", r.RemoteAddr),
			)
		}()
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri)))
	})
}

// requestID returns the incoming id when it is short and plain, else a new
// random one; a hostile id must not inject into logs.
func requestID(in string) string {
	if in != "" && len(in) <= 128 {
		ok := true
		for _, c := range in {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				ok = false
				break
			}
		}
		if ok {
			return in
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+).
	return hex.EncodeToString(b[:])
}

// recoverPanics turns a handler panic into a logged 500 problem so one bad
// request never takes the process down.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				// The handler asked net/http to drop the connection.
				panic(v)
			}
			s.o.logger.ErrorContext(r.Context(), "panic serving request",
				"request_id", RequestID(r.Context()), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if sw, ok := w.(*statusWriter); ok && sw.wroteHeader {
				// Too late for a clean answer; the client sees a cut response.
				return
			}
			httpauth.WriteProblem(w, http.StatusInternalServerError, "internal error; the problem has been logged")
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every response carries. The default CSP
// allows nothing at all (right for JSON); HTML pages set their own.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	hsts := s.cfg.SecureCookies()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		// Most answers carry personal or health data or credentials: none
		// is stored by any cache unless its handler says otherwise (the
		// key set, discovery and static files do).
		h.Set("Cache-Control", "no-store")
		if hsts {
			h.Set("Strict-Transport-Security", "max-age=63072000")
		}
		next.ServeHTTP(w, r)
	})
}

// readDeadline gives a raw upload (uploadPath) cfg.UploadReadTimeout to
// arrive instead of the server's cfg.RequestReadTimeout, both counted from
// the start of the request. Nothing is needed for long answers: net/http
// lifts the read deadline once the body is in (at once for a request
// without one), so a bulk file or a document streaming to a slow client is
// not cut by it (TestReadDeadlineSparesALongAnswer).
func (s *Server) readDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if uploadPath(r) {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.UploadReadTimeout))
		}
		next.ServeHTTP(w, r)
	})
}

// timedOut reports whether a body read failed because the request took
// longer to arrive than its read deadline allowed.
func timedOut(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// limitBody caps every request body at cfg.MaxBodyBytes, and a raw
// document upload at cfg.DocumentMaxBytes. A declared length over the
// limit is refused at once; an undeclared (chunked) one fails when the
// handler reads past the limit, and handlers answer 413 then.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := s.cfg.MaxBodyBytes
		if uploadPath(r) {
			limit = max(limit, s.cfg.DocumentMaxBytes)
		}
		if r.ContentLength > limit {
			s.refuseInput(w, r, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body is larger than %d bytes", limit))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// crossOrigin applies CSRF protection to requests that carry the session
// cookie: those are the ones a hostile page could make with the user's
// authority. Bearer-token and client-credential requests are not
// cookie-bound and may legitimately come from other origins.
func (s *Server) crossOrigin(next http.Handler) http.Handler {
	protected := s.csrf.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if httpauth.Token(r) != "" {
			protected.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// capturePattern records the pattern the mux matched, for the access log and
// metrics. The mux sets r.Pattern on the request it is given, so it is read
// after the mux returns (or panics).
func capturePattern(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if ri := infoFrom(r.Context()); ri != nil {
				ri.pattern = r.Pattern
			}
		}()
		if serveAPIMiss(mux, w, r) {
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// sourceAddr puts the request's client address (trusted proxies honoured,
// as the sign-in throttle reads it) in the context, so every audit event
// the request records names where it came from.
func (s *Server) sourceAddr(next http.Handler) http.Handler {
	clientIP := s.svc.ClientIP
	if clientIP == nil {
		clientIP = func(r *http.Request) string { return httpauth.ClientIP(r, nil) }
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(actor.WithAddr(r.Context(), clientIP(r))))
	})
}
