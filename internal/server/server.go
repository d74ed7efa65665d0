// Package server assembles ward: it opens the database, wires every service,
// mounts every route on one http.ServeMux behind one middleware chain, and
// runs the HTTP server with graceful shutdown. Everything is built eagerly in
// New, so a misconfiguration fails at start-up, not on the first request.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"ward/internal/actor"
	"ward/internal/api"
	"ward/internal/audit"
	"ward/internal/bulk"
	"ward/internal/config"
	"ward/internal/connector/mis"
	"ward/internal/console"
	"ward/internal/httpauth"
	"ward/internal/idpcompat"
	"ward/internal/integration"
	"ward/internal/jobs"
	"ward/internal/oauth"
	"ward/internal/web"
)

// ShutdownTimeout is how long in-flight requests get to finish once the
// server is asked to stop.
const ShutdownTimeout = 30 * time.Second

// readyTimeout bounds the database check behind /readyz, so a hung database
// makes the probe fail rather than hang.
const readyTimeout = 2 * time.Second

// Server is a running ward: its services and its HTTP handler.
type Server struct {
	cfg     config.Config
	o       options
	svc     *Services
	jobs    *jobs.Runner
	metrics *httpMetrics
	csrf    *http.CrossOriginProtection
	pages   *web.Handler // answers bad input on browser paths (refuseInput)
	// exports is the Bulk Data export service (mountFHIR builds it; the
	// console lists exports with it).
	exports *bulk.Service
	handler http.Handler
}

// New builds everything: it opens and migrates the database, wires the
// services, and mounts the routes. Close releases what it opened.
func New(ctx context.Context, cfg config.Config, opts ...Option) (*Server, error) {
	svc, err := OpenServices(ctx, cfg, opts...)
	if err != nil {
		return nil, err
	}
	s, err := build(ctx, cfg, svc, buildOptions(opts))
	if err != nil {
		return nil, errors.Join(err, svc.Close())
	}
	return s, nil
}

func build(ctx context.Context, cfg config.Config, svc *Services, o options) (*Server, error) {
	if err := svc.Migrate(ctx); err != nil {
		return nil, err
	}
	// First start creates the signing keys; every start checks that the
	// master key opens them.
	if err := svc.Keys.EnsureActive(actor.System(ctx)); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, o: o, svc: svc}
	jcfg := jobs.Default()
	jcfg.ExpiryAlertWindow = cfg.ServiceTokenAlertWindow
	jcfg.KeyMaxAge = cfg.KeyRotationAge
	jcfg.RescueAfter = cfg.JobRescueAfter
	jcfg.AuditCheckpointInterval = cfg.AuditCheckpointInterval
	// A key retired by rotation stays published while anything it signed
	// (JWT access tokens, ID tokens) may still be valid.
	// Pushed integration tokens live up to integration.MaxLifetime.
	jcfg.MaxTokenLifetime = max(cfg.AccessTokenLifetime, svc.OAuth.Config().IDTokenLifetime, integration.MaxLifetime)
	runner, err := jobs.New(ctx, jcfg, jobs.Deps{
		DB: svc.DB, DatabaseURL: cfg.DatabaseURL,
		Tokens: svc.OAuth, Keys: svc.Keys, Sessions: svc.Sessions, Logger: o.logger,
		// Webhooks (issue 15): the dispatcher runs every second; delivery
		// jobs are queued by it.
		Register: jobs.Registers(svc.Export.Register, svc.Mail.Register, svc.Connectors.Register,
			svc.Integrations.Register, svc.WebhookOutbox.Register),
		Periodic: slices.Concat(svc.Export.Periodic(), svc.Connectors.Periodic(), svc.Integrations.Periodic(),
			svc.WebhookOutbox.Periodic()),
		Checkpoints: svc.Checkpoints,
		Roles:       svc.Directory,
	})
	if err != nil {
		return nil, err
	}
	s.jobs = runner
	svc.Mail.UseJobs(runner)
	svc.Connectors.UseJobs(runner)
	svc.Integrations.UseJobs(runner)
	svc.WebhookOutbox.UseJobs(runner)

	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register runtime metrics: %w", err)
		}
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "ward_build_info",
		Help:        "Always 1; the version label names the running ward.",
		ConstLabels: prometheus.Labels{"version": o.version},
	})
	buildInfo.Set(1)
	if err := reg.Register(buildInfo); err != nil {
		return nil, fmt.Errorf("register build info: %w", err)
	}
	m, err := newHTTPMetrics(reg)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	// One set of connector metrics for every MIS client, told apart by
	// the connector label.
	misMetrics, err := mis.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	svc.MIS.metrics = misMetrics
	// Webhook deliveries by outcome and their latency (issue 15).
	whMetrics, err := newWebhookMetrics(reg)
	if err != nil {
		return nil, err
	}
	svc.WebhookOutbox.Observe(whMetrics)

	s.csrf = http.NewCrossOriginProtection()
	// Behind a proxy that rewrites Host, the browser's Origin is the public
	// URL; trust it explicitly.
	if origin, err := originOf(cfg.PublicIssuer()); err == nil {
		if err := s.csrf.AddTrustedOrigin(origin); err != nil {
			return nil, fmt.Errorf("trust issuer origin: %w", err)
		}
	}
	// An app may POST its authorization request from its own origin (SMART
	// authorize-post); the authorize endpoint checks the origin itself, with
	// its own guard, for the consent answer that changes state.
	consentCSRF := http.NewCrossOriginProtection()
	if origin, err := originOf(cfg.PublicIssuer()); err == nil {
		if err := consentCSRF.AddTrustedOrigin(origin); err != nil {
			return nil, fmt.Errorf("trust issuer origin: %w", err)
		}
	}
	s.csrf.AddInsecureBypassPattern("POST " + oauth.PathAuthorize)
	s.csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httpauth.WriteProblem(w, http.StatusForbidden, "cross-origin request refused")
	}))

	cookies := httpauth.Cookies{Secure: cfg.SecureCookies()}
	pages, err := web.New(web.Deps{
		Sessions:  svc.Sessions,
		Directory: svc.Directory,
		Grants:    svc.OAuth,
		Cookies:   cookies,
		CSRF:      s.csrf,
		Logger:    o.logger,
		Throttle:  svc.Throttle,
		ClientIP:  svc.ClientIP,
		// The connectors' priming pages (issue 16).
		Connectors: svc.Connectors,
	})
	if err != nil {
		return nil, err
	}
	s.pages = pages

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /.well-known/jwks.json", oauth.JWKSHandler(svc.Keys, o.logger))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(o.logger.Handler(), slog.LevelError)}))
	mux.Handle("POST /api/ping", httpauth.PingHandler{
		Sessions: svc.Sessions,
		Idle:     cfg.SessionIdleTimeout,
		Absolute: cfg.SessionAbsoluteLifetime,
		Logger:   o.logger,
	})
	mgmt := api.Mount(mux, api.Deps{
		Directory:     svc.Directory,
		Audit:         svc.Audit,
		Sessions:      svc.Sessions,
		Clients:       svc.Clients,
		OAuth:         svc.OAuth,
		Base:          cfg.PublicIssuer(),
		Interventions: svc.Interventions,
		Connectors:    svc.Connectors,
		Webhooks:      svc.Webhooks, // issue 15
		Integrations:  svc.Integrations,
		MIS:           svc.MIS.Client,
		Logger:        o.logger,
	})
	pages.Mount(mux)
	// The legacy IdP API (seed 003): system clients sign people in and
	// look up their tokens.
	idp, err := idpcompat.New(idpcompat.Deps{Clients: svc.Clients, Sessions: svc.Sessions, Tokens: svc.OAuth,
		Directory: svc.Directory, Throttle: svc.Throttle, ClientIP: svc.ClientIP, Logger: o.logger})
	if err != nil {
		return nil, err
	}
	idp.Mount(mux)
	if err := s.mountFHIR(mux); err != nil {
		return nil, err
	}
	// The admin console (issue 17): the same services, as pages.
	admin, err := console.New(console.Deps{
		Directory: svc.Directory, Sessions: svc.Sessions, Clients: svc.Clients, OAuth: svc.OAuth,
		Audit: svc.Audit, Interventions: svc.Interventions, Exports: s.exports, Webhooks: svc.Webhooks,
		Connectors: svc.Connectors, Jobs: s.jobs, CSRF: s.csrf, Logger: o.logger, Now: o.now,
		OpenAPI: func() ([]byte, error) { return json.Marshal(mgmt.OpenAPI()) },
	})
	if err != nil {
		return nil, err
	}
	admin.Mount(mux)
	svc.OAuth.Mount(mux)
	svc.OAuth.MountAuthorize(mux, oauth.AuthorizeDeps{Sessions: svc.Sessions, Pages: pages, CSRF: consentCSRF,
		Ender: svc.Sessions, Cookies: cookies})

	auth := httpauth.NewMiddleware(o.logger,
		httpauth.BearerExtractor{Tokens: svc.OAuth, Scope: routeScope},
		httpauth.SessionExtractor{Sessions: svc.Sessions, Cookies: cookies})
	auth.WriteErrorsWith(writeAuthError)
	auth.OnRefused(func(r *http.Request, status int, reason string) {
		comment := fmt.Sprintf("request refused (%d): %s; %s %s", status, reason, r.Method, r.URL.Path)
		if err := svc.Audit.Record(actor.System(r.Context()), audit.Change{Type: audit.RequestRefused,
			Fields: map[string]any{"status": status, "path": r.URL.Path}, Comment: comment}); err != nil {
			o.logger.ErrorContext(r.Context(), "audit refused credential", "err", err)
		}
	})
	s.handler = s.chain(auth.Wrap(capturePattern(mux)))
	return s, nil
}

// chain wraps the authenticated mux in the request-wide middleware, outermost
// first: observe (request id, access log, metrics) must see every response,
// including the 500 that recoverPanics writes; the body limit, the check for
// text no database can store, and the CSRF check run before authentication
// touches the database.
func (s *Server) chain(h http.Handler) http.Handler {
	h = s.crossOrigin(h)
	h = s.rejectBadText(h)
	h = s.cors(h)
	h = s.limitBody(h)
	h = s.readDeadline(h)
	h = s.securityHeaders(h)
	h = s.recoverPanics(h)
	h = s.sourceAddr(h)
	return s.observe(h)
}

// routeScope is the scope a bearer token needs per path: the management
// API takes tokens carrying oauth.ScopeAPI (acting with the permissions of
// the person behind the token); the OAuth endpoints check their tokens
// themselves, in RFC 6750's format; everything else sees the token's actor
// and scopes and decides (FHIR by its SMART scopes).
func routeScope(path string) (string, bool) {
	switch {
	case strings.HasPrefix(path, "/oauth/"):
		return "", false
	case strings.HasPrefix(path, "/api/"):
		return oauth.ScopeAPI, true
	default:
		return "", true
	}
}

// originOf returns scheme://host[:port] of a URL.
func originOf(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme == "" || u.Host == "" {
		return "", errors.New("not an absolute URL")
	}
	return u.Scheme + "://" + u.Host, nil
}

// Handler returns the whole HTTP interface, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// Services returns the wired services (the CLI and tests drive them directly).
func (s *Server) Services() *Services { return s.svc }

// Exports returns the Bulk Data export service (for tests that kick an
// export off without the FHIR protocol).
func (s *Server) Exports() *bulk.Service { return s.exports }

// Close releases the database.
func (s *Server) Close() error { return s.svc.Close() }

// Run listens on cfg.Addr and serves until ctx is cancelled, then shuts
// down gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is cancelled, then stops accepting requests
// and gives in-flight ones ShutdownTimeout to finish. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := s.httpServer(s.handler)
	s.o.logger.InfoContext(ctx, "ward listening", "addr", ln.Addr().String(),
		"url", "http://"+ln.Addr().String(), "issuer", s.cfg.PublicIssuer(), "version", s.o.version)

	// Background work (token janitor, key rotation, session purge) runs
	// while the server serves; River runs each job once across replicas.
	if err := s.jobs.Start(ctx); err != nil {
		_ = ln.Close()
		return fmt.Errorf("start background jobs: %w", err)
	}
	// Every integration gets a fresh token when ward starts (one replica
	// pushes: the job is unique per minute).
	if err := s.svc.Integrations.EnqueueStartPush(ctx); err != nil {
		s.o.logger.ErrorContext(ctx, "enqueue the integrations' start push", "err", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
		defer cancel()
		return errors.Join(fmt.Errorf("serve: %w", err), s.jobs.Stop(sctx))
	case <-ctx.Done():
	}
	s.o.logger.Info("shutting down", "timeout", ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if jerr := s.jobs.Stop(sctx); jerr != nil {
		err = errors.Join(err, fmt.Errorf("stop background jobs: %w", jerr))
	}
	// The last events of this run are checkpointed too, so that a tail
	// deleted while the server is down is caught.
	if _, cerr := s.svc.Checkpoints.Checkpoint(actor.System(sctx)); cerr != nil {
		err = errors.Join(err, fmt.Errorf("audit checkpoint at shutdown: %w", cerr))
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// httpServer is the http.Server ward listens with. Headers must arrive
// within 10 s and the whole request, body included, within
// cfg.RequestReadTimeout of its start, however slowly it trickles;
// readDeadline (middleware) gives raw uploads cfg.UploadReadTimeout, and
// net/http lifts the deadline once a body is in, so a long download or a
// slow handler is not cut by it. There is no WriteTimeout: bulk NDJSON files
// and document content may take a slow client long to fetch, and a write
// deadline would cut them mid-file. A keep-alive connection idle for
// cfg.IdleTimeout is closed.
func (s *Server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.cfg.RequestReadTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.o.logger.Handler(), slog.LevelWarn),
	}
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.svc.DB.Ping(ctx); err != nil {
		// The cause can name hosts; it goes to the log, the probe gets
		// the component.
		s.o.logger.WarnContext(r.Context(), "not ready", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
