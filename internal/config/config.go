// Package config is ward's runtime configuration: defaults, the WARD_*
// environment variables, and validation that reports every problem at once so
// an operator fixes a broken deployment in one pass rather than one error at a
// time.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is everything ward needs to start. The zero value is not usable;
// start from Default.
type Config struct {
	// Addr is the TCP address the HTTP server listens on.
	Addr string
	// DataDir holds the default SQLite database, the generated master key
	// file and other local files.
	DataDir string
	// DatabaseURL is sqlite:///path/file.db or postgres://...; empty means
	// the SQLite file in DataDir.
	DatabaseURL string
	// Issuer is the public base URL (scheme, host, optional path); empty
	// means http://<Addr>. See PublicIssuer.
	Issuer string
	// MasterKey encrypts secrets at rest; empty means a key file in DataDir,
	// created on first run.
	MasterKey string

	// SessionIdleTimeout ends a browser session after this much inactivity.
	SessionIdleTimeout time.Duration
	// SessionAbsoluteLifetime ends a browser session this long after sign-in,
	// however active it is.
	SessionAbsoluteLifetime time.Duration
	// LockoutFailures consecutive failed password checks lock an account ...
	LockoutFailures int
	// ... for LockoutPeriod after the last failure.
	LockoutPeriod time.Duration
	// SigninRatePerMinute is how many failed credential checks (a wrong
	// password at the sign-in form, a wrong client secret or assertion at
	// the token endpoint) one client address may make a minute, after a
	// burst of 30 (WARD_SIGNIN_RATE_PER_MINUTE); 0 turns the throttle off.
	SigninRatePerMinute int
	// TrustedProxies are the proxies whose X-Forwarded-For names the client
	// address (WARD_TRUSTED_PROXIES, comma-separated CIDRs or addresses; see
	// Proxies); empty means the header is ignored and the peer address is
	// the client. Kept as text so Config stays comparable.
	TrustedProxies string

	// AccessTokenLifetime, RefreshTokenLifetime and ServiceTokenLifetime
	// bound the tokens the authorization server issues.
	AccessTokenLifetime  time.Duration
	RefreshTokenLifetime time.Duration
	ServiceTokenLifetime time.Duration
	// SystemTokenLifetime caps access tokens carrying a system/ scope
	// (WARD_SYSTEM_TOKEN_LIFETIME, default 5m): SMART Backend Services
	// says they SHOULD NOT last more than 300 seconds.
	SystemTokenLifetime time.Duration
	// IDPTokenLifetime is how long an access token of the legacy IdP API
	// (/api/1.0/sso/signin) lives (WARD_IDP_TOKEN_LIFETIME, default 12h:
	// a working day's sign-in, like the browser session's absolute
	// lifetime; the seed names none).
	IDPTokenLifetime time.Duration
	// ServiceTokenAlertWindow is how long before a service token expires
	// the token janitor starts alerting its sponsor.
	ServiceTokenAlertWindow time.Duration
	// KeyRotationAge rotates the JWT signing keys once they are this old
	// (checked hourly by a background job); 0 turns scheduled rotation off.
	KeyRotationAge time.Duration

	// ExportFileLines is how many resources a bulk-export NDJSON file holds
	// before the export starts the type's next file.
	ExportFileLines int
	// ExportRetention is how long a completed export's files stay
	// downloadable before the cleanup job deletes them.
	ExportRetention time.Duration
	// ExportMaxPerClient caps the exports one client may have accepted or
	// in progress at once; past it a kick-off is answered 429.
	ExportMaxPerClient int

	// MaxBodyBytes caps every request body but raw Binary uploads
	// (WARD_MAX_BODY_BYTES): forms, management JSON and every FHIR JSON
	// resource, a DocumentReference with inline content and a FHIR JSON
	// Binary included. Larger content goes up as a raw Binary, which
	// streams to the blob store.
	MaxBodyBytes int64
	// RequestReadTimeout is how long a request, headers and body, may take
	// to arrive, counted from its start however slowly it trickles
	// (WARD_REQUEST_READ_TIMEOUT); a body not in by then is cut off.
	RequestReadTimeout time.Duration
	// UploadReadTimeout replaces RequestReadTimeout for raw Binary uploads
	// (WARD_UPLOAD_READ_TIMEOUT), which may be DocumentMaxBytes large.
	UploadReadTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that has carried no
	// request for this long (WARD_IDLE_TIMEOUT).
	IdleTimeout time.Duration
	// ExportSlice bounds one run of an export job (WARD_EXPORT_SLICE); a
	// longer export pauses and resumes from its checkpoint, so that no run
	// outlives JobRescueAfter.
	ExportSlice time.Duration
	// JobRescueAfter is how long a job may run before it is taken for
	// abandoned by a dead process and run again (WARD_JOB_RESCUE_AFTER):
	// how soon a crashed replica's export resumes elsewhere.
	JobRescueAfter time.Duration
	// BlobDir holds document content and export files
	// (WARD_BLOB_DIR); empty means "blobs" in DataDir. Replicas must share
	// it (a network filesystem) or each serve only their own exports.
	BlobDir string
	// DocumentMaxBytes caps one document's content
	// (WARD_DOCUMENT_MAX_BYTES); uploads to /fhir/Binary and
	// /fhir/DocumentReference may be this large (plus base64 for JSON).
	DocumentMaxBytes int64
	// AuditCheckpointInterval is how often the audit chain's head is signed
	// and written outside the database (WARD_AUDIT_CHECKPOINT_INTERVAL); a
	// checkpoint is also taken on shutdown.
	AuditCheckpointInterval time.Duration
	// OutboundAllowPrivate lets every outbound fetch (client key sets,
	// webhook receivers, pushed tokens, connectors) reach loopback,
	// private, link-local and other non-public addresses, over plain http
	// too (WARD_OUTBOUND_ALLOW_PRIVATE=1): for tests and closed networks.
	// Off (the default), only https to public addresses; see
	// internal/outbound.
	OutboundAllowPrivate bool
	// WebhookTimeout bounds one webhook delivery, connection to answer
	// (WARD_WEBHOOK_TIMEOUT); a receiver slower than this has failed.
	WebhookTimeout time.Duration
	// WebhookMaxFailures is the run of consecutive failed deliveries after
	// which ward disables a subscription (WARD_WEBHOOK_MAX_FAILURES);
	// a person enables it again.
	WebhookMaxFailures int
	// SMTP is the mail server messages are sent through (WARD_SMTP_*);
	// with no host, messages are stored and logged as not sent.
	SMTP SMTP
	// LogFormat is "json" (production) or "text" (a terminal).
	LogFormat string
	// LogLevel is debug, info, warn or error.
	LogLevel string
}

// Log formats.
const (
	LogJSON = "json"
	LogText = "text"
)

// Default returns the configuration used when nothing is set: a single
// process on loopback with SQLite in ./ward-data, and the reference system's
// session and lockout rules (1h idle, 12h absolute, 5 failures, 30 minutes).
func Default() Config {
	return Config{
		Addr:                    "127.0.0.1:8080",
		DataDir:                 "./ward-data",
		SessionIdleTimeout:      time.Hour,
		SessionAbsoluteLifetime: 12 * time.Hour,
		LockoutFailures:         5,
		LockoutPeriod:           30 * time.Minute,
		SigninRatePerMinute:     60,
		AccessTokenLifetime:     time.Hour,
		RefreshTokenLifetime:    90 * 24 * time.Hour,
		ServiceTokenLifetime:    365 * 24 * time.Hour,
		SystemTokenLifetime:     5 * time.Minute,
		IDPTokenLifetime:        12 * time.Hour,
		ServiceTokenAlertWindow: 6 * 7 * 24 * time.Hour,
		KeyRotationAge:          90 * 24 * time.Hour,
		ExportFileLines:         100000,
		ExportRetention:         24 * time.Hour,
		ExportMaxPerClient:      3,
		MaxBodyBytes:            1 << 20,
		RequestReadTimeout:      30 * time.Second,
		UploadReadTimeout:       5 * time.Minute,
		IdleTimeout:             30 * time.Second,
		DocumentMaxBytes:        32 << 20,
		ExportSlice:             30 * time.Minute,
		JobRescueAfter:          time.Hour,
		AuditCheckpointInterval: 5 * time.Minute,
		WebhookTimeout:          10 * time.Second,
		WebhookMaxFailures:      20,
		LogFormat:               LogJSON,
		LogLevel:                "info",
		SMTP:                    SMTP{Port: 587, TLS: SMTPStartTLS},
	}
}

// envPrefix marks ward's variables. Every variable with it must be known, so
// a typo (WARD_DATABSE_URL) fails loudly instead of silently using SQLite.
const envPrefix = "WARD_"

// testEnvPrefix is reserved for test harnesses (WARD_TEST_POSTGRES_URL...);
// such variables configure tests, not ward, and are ignored here.
const testEnvPrefix = "WARD_TEST_"

// ignoredEnv are variables ward reads nowhere but leaves alone: a test
// switch outside testEnvPrefix, and WARD_URL, the base URL the quickstart
// and scripts keep for curl (an exported WARD_URL must not make every
// command fail as an unknown setting).
var ignoredEnv = map[string]bool{"WARD_BROWSER_TESTS": true, "WARD_URL": true}

// setter parses one variable's value into c.
type setter func(c *Config, v string) error

var envVars = map[string]setter{
	"WARD_ADDR":         func(c *Config, v string) error { c.Addr = v; return nil },
	"WARD_DATA_DIR":     func(c *Config, v string) error { c.DataDir = v; return nil },
	"WARD_DATABASE_URL": func(c *Config, v string) error { c.DatabaseURL = v; return nil },
	"WARD_ISSUER":       func(c *Config, v string) error { c.Issuer = v; return nil },
	"WARD_MASTER_KEY":   func(c *Config, v string) error { c.MasterKey = v; return nil },
	"WARD_SESSION_IDLE_TIMEOUT": func(c *Config, v string) error {
		return parseDuration(v, &c.SessionIdleTimeout)
	},
	"WARD_SESSION_ABSOLUTE_LIFETIME": func(c *Config, v string) error {
		return parseDuration(v, &c.SessionAbsoluteLifetime)
	},
	"WARD_LOCKOUT_FAILURES": func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not an integer: %q", v)
		}
		c.LockoutFailures = n
		return nil
	},
	"WARD_ACCESS_TOKEN_LIFETIME": func(c *Config, v string) error {
		return parseDuration(v, &c.AccessTokenLifetime)
	},
	"WARD_REFRESH_TOKEN_LIFETIME": func(c *Config, v string) error {
		return parseDuration(v, &c.RefreshTokenLifetime)
	},
	"WARD_SERVICE_TOKEN_LIFETIME": func(c *Config, v string) error {
		return parseDuration(v, &c.ServiceTokenLifetime)
	},
	"WARD_SYSTEM_TOKEN_LIFETIME": func(c *Config, v string) error {
		return parseDuration(v, &c.SystemTokenLifetime)
	},
	"WARD_IDP_TOKEN_LIFETIME": func(c *Config, v string) error {
		return parseDuration(v, &c.IDPTokenLifetime)
	},
	"WARD_SERVICE_TOKEN_ALERT_WINDOW": func(c *Config, v string) error {
		return parseDuration(v, &c.ServiceTokenAlertWindow)
	},
	"WARD_KEY_ROTATION_AGE": func(c *Config, v string) error {
		return parseDuration(v, &c.KeyRotationAge)
	},
	"WARD_LOCKOUT_PERIOD": func(c *Config, v string) error { return parseDuration(v, &c.LockoutPeriod) },
	"WARD_SIGNIN_RATE_PER_MINUTE": func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not an integer: %q", v)
		}
		c.SigninRatePerMinute = n
		return nil
	},
	"WARD_TRUSTED_PROXIES": func(c *Config, v string) error {
		c.TrustedProxies = v
		_, err := ParseProxies(v)
		return err
	},
	"WARD_MAX_BODY_BYTES": func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer: %q", v)
		}
		c.MaxBodyBytes = n
		return nil
	},
	"WARD_REQUEST_READ_TIMEOUT": func(c *Config, v string) error {
		return parseDuration(v, &c.RequestReadTimeout)
	},
	"WARD_UPLOAD_READ_TIMEOUT": func(c *Config, v string) error {
		return parseDuration(v, &c.UploadReadTimeout)
	},
	"WARD_IDLE_TIMEOUT":     func(c *Config, v string) error { return parseDuration(v, &c.IdleTimeout) },
	"WARD_EXPORT_SLICE":     func(c *Config, v string) error { return parseDuration(v, &c.ExportSlice) },
	"WARD_JOB_RESCUE_AFTER": func(c *Config, v string) error { return parseDuration(v, &c.JobRescueAfter) },
	"WARD_BLOB_DIR":         func(c *Config, v string) error { c.BlobDir = v; return nil },
	"WARD_AUDIT_CHECKPOINT_INTERVAL": func(c *Config, v string) error {
		return parseDuration(v, &c.AuditCheckpointInterval)
	},
	"WARD_DOCUMENT_MAX_BYTES": func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer: %q", v)
		}
		c.DocumentMaxBytes = n
		return nil
	},
	"WARD_EXPORT_FILE_LINES": func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not an integer: %q", v)
		}
		c.ExportFileLines = n
		return nil
	},
	"WARD_EXPORT_RETENTION": func(c *Config, v string) error { return parseDuration(v, &c.ExportRetention) },
	"WARD_EXPORT_MAX_PER_CLIENT": func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not an integer: %q", v)
		}
		c.ExportMaxPerClient = n
		return nil
	},
	"WARD_OUTBOUND_ALLOW_PRIVATE": func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("not 1 or 0 (true or false): %q", v)
		}
		c.OutboundAllowPrivate = b
		return nil
	},
	"WARD_WEBHOOK_TIMEOUT": func(c *Config, v string) error { return parseDuration(v, &c.WebhookTimeout) },
	"WARD_WEBHOOK_MAX_FAILURES": func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not an integer: %q", v)
		}
		c.WebhookMaxFailures = n
		return nil
	},
	"WARD_SMTP_HOST":     func(c *Config, v string) error { c.SMTP.Host = v; return nil },
	"WARD_SMTP_PORT":     func(c *Config, v string) error { return parsePort(v, &c.SMTP.Port) },
	"WARD_SMTP_USERNAME": func(c *Config, v string) error { c.SMTP.Username = v; return nil },
	"WARD_SMTP_PASSWORD": func(c *Config, v string) error { c.SMTP.Password = v; return nil },
	"WARD_SMTP_FROM":     func(c *Config, v string) error { c.SMTP.From = v; return nil },
	"WARD_SMTP_TLS":      func(c *Config, v string) error { c.SMTP.TLS = v; return nil },
	"WARD_LOG_FORMAT":    func(c *Config, v string) error { c.LogFormat = v; return nil },
	"WARD_LOG_LEVEL":     func(c *Config, v string) error { c.LogLevel = v; return nil },
}

// ParseProxies reads a comma-separated list of CIDRs ("10.0.0.0/8") or
// single addresses ("192.0.2.1", taken as /32 or /128); blanks are skipped.
// Every entry that does not parse is named in the error.
func ParseProxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var bad []string
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(f); err == nil {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		bad = append(bad, strconv.Quote(f))
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("not a CIDR or an IP address: %s", strings.Join(bad, ", "))
	}
	return out, nil
}

// EnvVars returns the names of the variables FromEnv reads, sorted.
func EnvVars() []string {
	names := make([]string, 0, len(envVars))
	for k := range envVars {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func parseDuration(v string, dst *time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("not a duration (like 30m or 1h): %q", v)
	}
	*dst = d
	return nil
}

// FromEnv applies the WARD_* variables in environ (os.Environ() form,
// "KEY=value") on top of base. A variable with the WARD_ prefix that ward
// does not know is an error, as is a value that does not parse; every such
// problem is reported in the one returned error. WARD_TEST_* variables
// belong to test harnesses and are ignored.
//
// It takes the whole environment rather than a lookup function because
// rejecting unknown variables needs to see them all.
func FromEnv(base Config, environ []string) (Config, error) {
	c := base
	var errs []error
	// Sort so errors come out in a stable order.
	sorted := append([]string(nil), environ...)
	sort.Strings(sorted)
	for _, kv := range sorted {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, envPrefix) || strings.HasPrefix(k, testEnvPrefix) || ignoredEnv[k] {
			continue
		}
		set, ok := envVars[k]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: unknown variable (known: %s)", k, strings.Join(EnvVars(), ", ")))
			continue
		}
		if err := set(&c, strings.TrimSpace(v)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
		}
	}
	return c, errors.Join(errs...)
}

// PublicIssuer returns Issuer without a trailing slash, or http://<Addr>
// when Issuer is empty.
func (c Config) PublicIssuer() string {
	if c.Issuer == "" {
		return "http://" + c.Addr
	}
	return strings.TrimRight(c.Issuer, "/")
}

// AuditCheckpointPath is the append-only file of signed audit checkpoints
// in the data directory; "" without a data directory (checkpoints then go
// to the log only).
func (c Config) AuditCheckpointPath() string {
	if c.DataDir == "" {
		return ""
	}
	return filepath.Join(c.DataDir, "audit-checkpoints.jsonl")
}

// BlobRoot is where document content and export files live.
func (c Config) BlobRoot() string {
	if c.BlobDir != "" {
		return c.BlobDir
	}
	return filepath.Join(c.DataDir, "blobs")
}

// Proxies returns TrustedProxies parsed (the entries that parse; Validate
// reports the others).
func (c Config) Proxies() []netip.Prefix {
	ps, _ := ParseProxies(c.TrustedProxies)
	return ps
}

// SecureCookies reports whether cookies must be marked Secure: whenever the
// public URL is https (behind a TLS-terminating proxy the listener itself is
// plain HTTP, so the issuer is what tells).
func (c Config) SecureCookies() bool {
	return strings.HasPrefix(strings.ToLower(c.PublicIssuer()), "https://")
}

// SlogLevel returns LogLevel as a slog.Level (info when it does not parse;
// Validate reports that case).
func (c Config) SlogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// Validate reports every problem with c at once, joined with errors.Join, or
// nil when c is usable.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.Addr == "" {
		bad("addr: must be set (host:port)")
	} else if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		bad("addr: %q is not host:port: %v", c.Addr, err)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad("addr: port %q is not a number between 0 and 65535", port)
	}

	if c.DataDir == "" && (c.DatabaseURL == "" || c.MasterKey == "") {
		bad("data dir: must be set unless both WARD_DATABASE_URL and WARD_MASTER_KEY are (it holds the SQLite database and the key file)")
	}
	switch {
	case c.DatabaseURL == "":
	case strings.HasPrefix(c.DatabaseURL, "sqlite://"):
		if p := strings.TrimPrefix(c.DatabaseURL, "sqlite://"); p == "" || p == "/" {
			bad("WARD_DATABASE_URL: sqlite URL names no file (want sqlite:///path/to/ward.db)")
		}
	case strings.HasPrefix(c.DatabaseURL, "postgres://"), strings.HasPrefix(c.DatabaseURL, "postgresql://"):
		if _, err := url.Parse(c.DatabaseURL); err != nil {
			// Never echo the URL: it may carry a password.
			bad("WARD_DATABASE_URL: malformed postgres URL")
		}
	default:
		bad("WARD_DATABASE_URL: unsupported scheme (want sqlite:// or postgres://)")
	}

	if c.Issuer != "" {
		u, err := url.Parse(c.Issuer)
		switch {
		case err != nil:
			bad("WARD_ISSUER: %q is not a URL", c.Issuer)
		case u.Scheme != "http" && u.Scheme != "https":
			bad("WARD_ISSUER: %q must start with http:// or https://", c.Issuer)
		case u.Host == "":
			bad("WARD_ISSUER: %q has no host", c.Issuer)
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			bad("WARD_ISSUER: %q must not carry a query, fragment or user info", c.Issuer)
		}
	}

	if c.MasterKey != "" && !validMasterKey(c.MasterKey) {
		// Never echo the value: it is the key to every secret at rest.
		bad("WARD_MASTER_KEY: must be 32 random bytes in base64 (e.g. the output of `openssl rand -base64 32`)")
	}

	if c.SessionIdleTimeout <= 0 {
		bad("session idle timeout: must be positive, got %s", c.SessionIdleTimeout)
	}
	if c.SessionAbsoluteLifetime <= 0 {
		bad("session absolute lifetime: must be positive, got %s", c.SessionAbsoluteLifetime)
	} else if c.SessionIdleTimeout > c.SessionAbsoluteLifetime {
		bad("session idle timeout (%s) exceeds the absolute lifetime (%s)", c.SessionIdleTimeout, c.SessionAbsoluteLifetime)
	}
	if c.LockoutFailures < 1 {
		bad("lockout failures: must be at least 1, got %d", c.LockoutFailures)
	}
	if c.LockoutPeriod <= 0 {
		bad("lockout period: must be positive, got %s", c.LockoutPeriod)
	}
	if _, err := ParseProxies(c.TrustedProxies); err != nil {
		bad("WARD_TRUSTED_PROXIES: %v", err)
	}
	if c.SigninRatePerMinute < 0 || c.SigninRatePerMinute > 1000000 {
		bad("sign-in rate per minute: must be between 0 (off) and 1000000, got %d", c.SigninRatePerMinute)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"access token lifetime", c.AccessTokenLifetime}, {"refresh token lifetime", c.RefreshTokenLifetime},
		{"service token lifetime", c.ServiceTokenLifetime}, {"service token alert window", c.ServiceTokenAlertWindow},
		{"system token lifetime", c.SystemTokenLifetime}, {"IdP token lifetime", c.IDPTokenLifetime}} {
		if d.v <= 0 {
			bad("%s: must be positive, got %s", d.name, d.v)
		}
	}
	if c.KeyRotationAge < 0 {
		bad("key rotation age: must be positive, or 0 to turn scheduled rotation off, got %s", c.KeyRotationAge)
	}
	if c.ExportFileLines < 1 {
		bad("export file lines: must be at least 1, got %d", c.ExportFileLines)
	}
	if c.ExportRetention < time.Minute {
		bad("export retention: must be at least 1m, got %s", c.ExportRetention)
	}
	if c.ExportMaxPerClient < 1 {
		bad("export max per client: must be at least 1, got %d", c.ExportMaxPerClient)
	}
	// An export run lasts its slice plus a grace of up to 5 minutes
	// (bulk.RunTimeout); River must not take a live run for dead.
	if c.ExportSlice < time.Second || c.JobRescueAfter < c.ExportSlice+min(c.ExportSlice, 5*time.Minute) {
		bad("export slice and job rescue: want WARD_EXPORT_SLICE of at least 1s and WARD_JOB_RESCUE_AFTER of at least the slice plus min(slice, 5m), got %s and %s",
			c.ExportSlice, c.JobRescueAfter)
	}
	if c.WebhookTimeout < 100*time.Millisecond || c.WebhookTimeout > 5*time.Minute {
		bad("webhook timeout: must be between 100ms and 5m, got %s", c.WebhookTimeout)
	}
	if c.WebhookMaxFailures < 1 {
		bad("webhook max failures: must be at least 1, got %d", c.WebhookMaxFailures)
	}
	if c.DocumentMaxBytes < 1 {
		bad("document max bytes: must be positive, got %d", c.DocumentMaxBytes)
	}
	if c.AuditCheckpointInterval < time.Second {
		bad("audit checkpoint interval: must be at least 1s, got %s", c.AuditCheckpointInterval)
	}
	if c.BlobDir == "" && c.DataDir == "" {
		bad("blob dir: set WARD_BLOB_DIR or a data dir (documents and export files live there)")
	}
	if c.MaxBodyBytes < 1024 {
		bad("max body bytes: must be at least 1024, got %d", c.MaxBodyBytes)
	}
	if c.RequestReadTimeout <= 0 {
		bad("request read timeout: must be positive, got %s", c.RequestReadTimeout)
	}
	if c.UploadReadTimeout < c.RequestReadTimeout {
		bad("upload read timeout (%s): must be at least the request read timeout (%s)", c.UploadReadTimeout, c.RequestReadTimeout)
	}
	if c.IdleTimeout <= 0 {
		bad("idle timeout: must be positive, got %s", c.IdleTimeout)
	}
	if c.LogFormat != LogJSON && c.LogFormat != LogText {
		bad("log format: %q is neither %q nor %q", c.LogFormat, LogJSON, LogText)
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		bad("log level: %q is not one of debug, info, warn, error", c.LogLevel)
	}
	errs = append(errs, c.SMTP.validate()...)
	return errors.Join(errs...)
}

// masterKeyBytes is the size of the master key (see internal/secrets).
const masterKeyBytes = 32

// validMasterKey reports whether s is masterKeyBytes in base64, standard or
// URL alphabet, padded or not: the forms internal/secrets accepts.
func validMasterKey(s string) bool {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
	k, err := base64.RawStdEncoding.DecodeString(s)
	return err == nil && len(k) == masterKeyBytes
}
