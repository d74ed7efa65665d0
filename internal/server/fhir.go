package server

import (
	"net/http"
	"strings"

	"ward/internal/bulk"
	"ward/internal/bulk/bulksource"
	"ward/internal/fhir"
	"ward/internal/fhir/policy"
	"ward/internal/fhir/rest"
	"ward/internal/httpauth"
	"ward/internal/matching"
	"ward/internal/oauth"
)

// mountFHIR puts the FHIR API and Bulk Data export under /fhir.
func (s *Server) mountFHIR(mux *http.ServeMux) error {
	svc, cfg := s.svc, s.cfg
	base := cfg.PublicIssuer() + "/fhir"
	exportSvc, err := bulk.NewService(bulk.Deps{
		Store: svc.DB, Tx: svc.DB, Blobs: svc.Blobs, Source: svc.ExportSource,
		Groups: bulksource.Groups{Dir: svc.Directory}, Audit: svc.Audit, Jobs: s.jobs, Engine: svc.Export,
		Roles: svc.Directory,
	}, bulk.Config{BaseURL: base, MaxPerClient: cfg.ExportMaxPerClient, Now: s.o.now, Logger: s.o.logger})
	if err != nil {
		return err
	}
	exports, err := rest.NewBulkHandler(exportSvc, rest.BulkConfig{BaseURL: base, MaxBody: cfg.MaxBodyBytes,
		Now: s.o.now, Logger: s.o.logger})
	if err != nil {
		return err
	}
	exports.Mount(mux)
	s.exports = exportSvc
	issuer := cfg.PublicIssuer()
	h := rest.New(rest.Deps{
		Base:      base,
		Policy:    policy.New(svc.Directory),
		Directory: svc.Directory,
		Groups:    svc.Directory,
		Consents:  svc.Directory,
		Workflow:  svc.Workflow,
		Matcher:   matching.NewService(svc.DB),
		Clinical:  svc.Clinical,
		Documents: svc.Documents,
		Audit:     svc.Audit,
		Trail:     svc.Audit,
		Security: fhir.SMARTSecurity("SMART App Launch 2.0 and Backend Services; see "+issuer+oauth.PathSMARTConfig,
			fhir.OAuthURI{Name: "authorize", URL: issuer + oauth.PathAuthorize},
			fhir.OAuthURI{Name: "token", URL: issuer + oauth.PathToken},
			fhir.OAuthURI{Name: "introspect", URL: issuer + oauth.PathIntrospect},
			fhir.OAuthURI{Name: "revoke", URL: issuer + oauth.PathRevoke}),
		Operations: []fhir.CapabilityStatementOperation{{Name: "export", Definition: fhir.OperationExport}},
		TypeOperations: map[string][]fhir.CapabilityStatementOperation{
			"Patient": {{Name: "export", Definition: fhir.OperationPatientExport}},
			"Group":   {{Name: "export", Definition: fhir.OperationGroupExport}},
		},
		Version: s.o.version,
		Logger:  s.o.logger,
		Now:     s.o.now,
		MaxBody: cfg.MaxBodyBytes,
	})
	h.Mount(mux)
	return nil
}

// isFHIR reports whether a path belongs to the FHIR API.
func isFHIR(path string) bool { return path == "/fhir" || strings.HasPrefix(path, "/fhir/") }

// writeAuthError answers a refused credential in the error format of the
// API the request was for: OperationOutcome under /fhir, problem+json
// elsewhere.
func writeAuthError(w http.ResponseWriter, r *http.Request, status int, detail string) {
	if !isFHIR(r.URL.Path) {
		httpauth.WriteProblem(w, status, detail)
		return
	}
	code := "security"
	if status == http.StatusInternalServerError {
		code = "exception"
	}
	rest.WriteOutcome(w, status, fhir.NewOperationOutcome("error", code, detail))
}

// uploadPath reports whether a request carries a document's content raw:
// a Binary create of any type but JSON, which streams to the blob store
// and so gets the document limit and the upload read deadline. Every JSON
// body, a DocumentReference with inline content or a FHIR JSON Binary
// included, is held to the general limit: decoding one takes several
// times its size in memory.
func uploadPath(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == "/fhir/Binary" && !rest.JSONType(r.Header.Get("Content-Type"))
}

// corsPath reports whether a path serves browser apps on other origins:
// SMART apps running in a browser call the FHIR API, the token endpoints
// and discovery directly. Every one of them authenticates with a bearer
// token or client credentials in the request, never the session cookie,
// so any origin may call them: the answer carries no credentials, and a
// browser sends no cookies for a "*" origin.
func corsPath(path string) bool {
	switch path {
	case oauth.PathToken, oauth.PathRevoke, oauth.PathIntrospect, oauth.PathUserinfo,
		oauth.PathJWKS, oauth.PathOIDCConfig, oauth.PathSMARTConfig:
		return true
	}
	return isFHIR(path)
}

// CORS headers for corsPath paths.
const (
	corsMethods = "GET, POST, PUT, DELETE, OPTIONS"
	corsHeaders = "Authorization, Content-Type, Accept, Prefer, If-Match, If-None-Match, X-Security-Context"
	corsExpose  = "Content-Location, Location, ETag, Last-Modified, X-Progress, Retry-After, WWW-Authenticate, X-Request-Id"
)

// cors answers preflights and marks responses of corsPath paths as
// readable from any origin.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") == "" || !corsPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", corsExpose)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
