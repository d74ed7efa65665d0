package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v, want nil", err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./ward-data" || c.MaxBodyBytes != 1<<20 {
		t.Errorf("Default() = %+v, want addr 127.0.0.1:8080, data dir ./ward-data, 1 MiB bodies", c)
	}
}

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		check   func(t *testing.T, c Config)
		wantErr []string // substrings, each must appear
	}{
		{
			name: "every variable",
			env: []string{
				"WARD_ADDR=0.0.0.0:9000",
				"WARD_DATA_DIR=/var/lib/ward",
				"WARD_DATABASE_URL=postgres://u@db/ward",
				"WARD_ISSUER=https://id.example.org",
				"WARD_MASTER_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
				"WARD_SESSION_IDLE_TIMEOUT=15m",
				"WARD_SESSION_ABSOLUTE_LIFETIME=8h",
				"WARD_LOCKOUT_FAILURES=3",
				"WARD_LOCKOUT_PERIOD=10m",
				"WARD_ACCESS_TOKEN_LIFETIME=30m",
				"WARD_REFRESH_TOKEN_LIFETIME=720h",
				"WARD_SERVICE_TOKEN_LIFETIME=2160h",
				"WARD_SERVICE_TOKEN_ALERT_WINDOW=168h",
				"WARD_KEY_ROTATION_AGE=720h",
				"WARD_MAX_BODY_BYTES=2048",
				"WARD_REQUEST_READ_TIMEOUT=20s",
				"WARD_UPLOAD_READ_TIMEOUT=10m",
				"WARD_IDLE_TIMEOUT=45s",
				"WARD_EXPORT_FILE_LINES=500",
				"WARD_EXPORT_RETENTION=2h",
				"WARD_EXPORT_MAX_PER_CLIENT=7",
				"WARD_BLOB_DIR=/srv/blobs",
				"WARD_EXPORT_SLICE=2m",
				"WARD_JOB_RESCUE_AFTER=10m",
				"WARD_DOCUMENT_MAX_BYTES=4096",
				"WARD_AUDIT_CHECKPOINT_INTERVAL=90s",
				"WARD_LOG_FORMAT=text",
				"WARD_LOG_LEVEL=debug",
				"WARD_SIGNIN_RATE_PER_MINUTE=0",
				"WARD_TRUSTED_PROXIES=10.0.0.0/8, 192.0.2.1,2001:db8::/32",
				"WARD_OUTBOUND_ALLOW_PRIVATE=1",
				"WARD_SYSTEM_TOKEN_LIFETIME=2m",
				"WARD_IDP_TOKEN_LIFETIME=3h",
				"WARD_SMTP_HOST=smtp.example.org",
				"WARD_SMTP_PORT=465",
				"WARD_SMTP_USERNAME=ward",
				"WARD_SMTP_PASSWORD=s3cret",
				"WARD_SMTP_FROM=ward@example.org",
				"WARD_SMTP_TLS=tls",
				"WARD_WEBHOOK_TIMEOUT=3s",
				"WARD_WEBHOOK_MAX_FAILURES=5",
			},
			check: func(t *testing.T, c Config) {
				want := Config{
					Addr: "0.0.0.0:9000", DataDir: "/var/lib/ward", DatabaseURL: "postgres://u@db/ward",
					Issuer: "https://id.example.org", MasterKey: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
					SessionIdleTimeout: 15 * time.Minute, SessionAbsoluteLifetime: 8 * time.Hour,
					LockoutFailures: 3, LockoutPeriod: 10 * time.Minute, MaxBodyBytes: 2048,
					RequestReadTimeout: 20 * time.Second, UploadReadTimeout: 10 * time.Minute, IdleTimeout: 45 * time.Second,
					AccessTokenLifetime: 30 * time.Minute, RefreshTokenLifetime: 720 * time.Hour,
					ServiceTokenLifetime: 2160 * time.Hour, ServiceTokenAlertWindow: 168 * time.Hour,
					KeyRotationAge:  720 * time.Hour,
					ExportFileLines: 500, ExportRetention: 2 * time.Hour, ExportMaxPerClient: 7,
					BlobDir: "/srv/blobs", DocumentMaxBytes: 4096,
					ExportSlice: 2 * time.Minute, JobRescueAfter: 10 * time.Minute,
					AuditCheckpointInterval: 90 * time.Second,
					LogFormat:               "text", LogLevel: "debug",
					SigninRatePerMinute: 0, TrustedProxies: "10.0.0.0/8, 192.0.2.1,2001:db8::/32",
				}
				want.OutboundAllowPrivate = true
				want.SystemTokenLifetime = 2 * time.Minute
				want.IDPTokenLifetime = 3 * time.Hour
				want.WebhookTimeout, want.WebhookMaxFailures = 3*time.Second, 5
				want.SMTP = SMTP{Host: "smtp.example.org", Port: 465, Username: "ward", Password: "s3cret",
					From: "ward@example.org", TLS: SMTPTLS}
				if c != want {
					t.Errorf("got %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name: "other and test variables are ignored",
			env:  []string{"HOME=/root", "WARD_TEST_POSTGRES_URL=postgres://x", "WARD_BROWSER_TESTS=1", "WARD_URL=http://127.0.0.1:8080", "NOT_WARD_X=1"},
			check: func(t *testing.T, c Config) {
				if c != Default() {
					t.Errorf("got %+v, want the defaults", c)
				}
			},
		},
		{
			name:    "unknown WARD variable is rejected",
			env:     []string{"WARD_DATABSE_URL=postgres://x"},
			wantErr: []string{"WARD_DATABSE_URL: unknown variable"},
		},
		{
			name: "every parse problem at once",
			env: []string{"WARD_LOCKOUT_FAILURES=many", "WARD_SESSION_IDLE_TIMEOUT=soon", "WARD_MAX_BODY_BYTES=1MB", "WARD_NOPE=1",
				"WARD_EXPORT_FILE_LINES=lots", "WARD_EXPORT_RETENTION=forever", "WARD_EXPORT_MAX_PER_CLIENT=3.5",
				"WARD_SIGNIN_RATE_PER_MINUTE=fast", "WARD_IDLE_TIMEOUT=never", "WARD_TRUSTED_PROXIES=10.0.0.0/8,proxy.example,10.1.2.3/33",
				"WARD_OUTBOUND_ALLOW_PRIVATE=maybe", "WARD_SMTP_PORT=smtp"},
			wantErr: []string{"WARD_LOCKOUT_FAILURES", "WARD_SESSION_IDLE_TIMEOUT", "WARD_MAX_BODY_BYTES", "WARD_NOPE",
				"WARD_EXPORT_FILE_LINES", "WARD_EXPORT_RETENTION", "WARD_EXPORT_MAX_PER_CLIENT",
				"WARD_SIGNIN_RATE_PER_MINUTE", "WARD_IDLE_TIMEOUT", "WARD_OUTBOUND_ALLOW_PRIVATE", "WARD_SMTP_PORT", `WARD_TRUSTED_PROXIES: not a CIDR or an IP address: "proxy.example", "10.1.2.3/33"`},
		},
		{
			name: "value without equals sign is empty",
			env:  []string{"WARD_ISSUER"},
			check: func(t *testing.T, c Config) {
				if c.Issuer != "" {
					t.Errorf("Issuer = %q, want empty", c.Issuer)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromEnv(Default(), tt.env)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("FromEnv() error = nil, want one mentioning %v", tt.wantErr)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("FromEnv() error = %q, want it to mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("FromEnv() error = %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(c *Config)
		wantErr []string // empty: valid
	}{
		{"defaults", func(c *Config) {}, nil},
		{"smtp with starttls and auth", func(c *Config) {
			c.SMTP = SMTP{Host: "smtp.example.org", Port: 587, Username: "u", Password: "p", From: "ward@example.org", TLS: SMTPStartTLS}
		}, nil},
		{"smtp relay on localhost without tls", func(c *Config) {
			c.SMTP = SMTP{Host: "127.0.0.1", Port: 25, Username: "u", Password: "p", From: "ward@example.org", TLS: SMTPNoTLS}
		}, nil},
		{"smtp settings without a host", func(c *Config) { c.SMTP.From = "ward@example.org" }, []string{"WARD_SMTP_HOST"}},
		{"smtp everything wrong", func(c *Config) {
			c.SMTP = SMTP{Host: "smtp://x", Port: 70000, Username: "u", From: "Ward <ward@example.org>", TLS: "ssl"}
		}, []string{"WARD_SMTP_HOST", "WARD_SMTP_PORT", "WARD_SMTP_TLS", "WARD_SMTP_FROM", "set both or neither"}},
		{"smtp password in clear to a remote host", func(c *Config) {
			c.SMTP = SMTP{Host: "smtp.example.org", Port: 25, Username: "u", Password: "hunter2", From: "ward@example.org", TLS: SMTPNoTLS}
		}, []string{"in clear"}},
		{"sqlite url", func(c *Config) { c.DatabaseURL = "sqlite:///tmp/w.db" }, nil},
		{"no data dir with url, key and blob dir", func(c *Config) {
			c.DataDir, c.DatabaseURL, c.MasterKey = "", "postgres://h/d", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
			c.BlobDir = "/srv/ward-blobs"
		}, nil},
		{"no data dir and no blob dir", func(c *Config) {
			c.DataDir, c.DatabaseURL, c.MasterKey = "", "postgres://h/d", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
		}, []string{"blob dir"}},
		{"document limit", func(c *Config) { c.DocumentMaxBytes = 0 }, []string{"document max bytes"}},
		{"system token lifetime", func(c *Config) { c.SystemTokenLifetime = 0 }, []string{"system token lifetime"}},
		{"IdP token lifetime", func(c *Config) { c.IDPTokenLifetime = 0 }, []string{"IdP token lifetime"}},
		{"webhook timeout", func(c *Config) { c.WebhookTimeout = time.Hour }, []string{"webhook timeout"}},
		{"webhook max failures", func(c *Config) { c.WebhookMaxFailures = 0 }, []string{"webhook max failures"}},
		{"slice outlives rescue", func(c *Config) { c.ExportSlice, c.JobRescueAfter = time.Hour, time.Hour }, []string{"export slice"}},
		{"no data dir with url but no key", func(c *Config) { c.DataDir, c.DatabaseURL = "", "postgres://h/d" }, []string{"data dir"}},
		{"postgres url", func(c *Config) { c.DatabaseURL = "postgresql://u:p@h:5432/d?sslmode=disable" }, nil},
		{"https issuer with path", func(c *Config) { c.Issuer = "https://example.org/ward/" }, nil},
		{"port zero", func(c *Config) { c.Addr = "127.0.0.1:0" }, nil},
		{"no addr", func(c *Config) { c.Addr = "" }, []string{"addr: must be set"}},
		{"addr without port", func(c *Config) { c.Addr = "localhost" }, []string{"not host:port"}},
		{"addr bad port", func(c *Config) { c.Addr = "localhost:http2" }, []string{"port"}},
		{"no data dir and no url", func(c *Config) { c.DataDir = "" }, []string{"data dir"}},
		{"mysql url", func(c *Config) { c.DatabaseURL = "mysql://u:secret@h/d" }, []string{"unsupported scheme"}},
		{"empty sqlite url", func(c *Config) { c.DatabaseURL = "sqlite://" }, []string{"names no file"}},
		{"issuer ftp", func(c *Config) { c.Issuer = "ftp://x" }, []string{"http:// or https://"}},
		{"issuer no host", func(c *Config) { c.Issuer = "https://" }, []string{"no host"}},
		{"issuer query", func(c *Config) { c.Issuer = "https://x.org/?a=b" }, []string{"query"}},
		{"master key std base64", func(c *Config) { c.MasterKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" }, nil},
		{"master key url base64 unpadded", func(c *Config) { c.MasterKey = "_-ECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8" }, nil},
		{"master key too short", func(c *Config) { c.MasterKey = "c2hvcnQ=" }, []string{"WARD_MASTER_KEY"}},
		{"master key not base64", func(c *Config) { c.MasterKey = "this is not base64 at all, it has spaces!!" }, []string{"WARD_MASTER_KEY"}},
		{"idle above absolute", func(c *Config) { c.SessionIdleTimeout = 13 * time.Hour }, []string{"exceeds"}},
		{"zero lockout", func(c *Config) { c.LockoutFailures = 0 }, []string{"lockout failures"}},
		{"tiny body", func(c *Config) { c.MaxBodyBytes = 10 }, []string{"max body bytes"}},
		{"no request read timeout", func(c *Config) { c.RequestReadTimeout = 0 }, []string{"request read timeout"}},
		{"upload deadline below request's", func(c *Config) { c.UploadReadTimeout = 10 * time.Second }, []string{"upload read timeout"}},
		{"no idle timeout", func(c *Config) { c.IdleTimeout = 0 }, []string{"idle timeout"}},
		{"one line per export file", func(c *Config) { c.ExportFileLines = 1 }, nil},
		{"no export file lines", func(c *Config) { c.ExportFileLines = 0 }, []string{"export file lines"}},
		{"one minute retention", func(c *Config) { c.ExportRetention = time.Minute }, nil},
		{"short export retention", func(c *Config) { c.ExportRetention = time.Second }, []string{"export retention"}},
		{"one export per client", func(c *Config) { c.ExportMaxPerClient = 1 }, nil},
		{"no exports per client", func(c *Config) { c.ExportMaxPerClient = 0 }, []string{"export max per client"}},
		{"bad log format", func(c *Config) { c.LogFormat = "xml" }, []string{"log format"}},
		{"bad log level", func(c *Config) { c.LogLevel = "loud" }, []string{"log level"}},
		{
			name: "every problem at once",
			mutate: func(c *Config) {
				c.Addr = ""
				c.LockoutPeriod = 0
				c.SessionIdleTimeout = -time.Second
				c.LogFormat = "xml"
			},
			wantErr: []string{"addr", "lockout period", "session idle timeout", "log format"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			err := c.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error mentioning %v", tt.wantErr)
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Validate() = %q, want it to mention %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("Validate() = %q leaks a password from the URL", err)
			}
		})
	}
}

func TestProxies(t *testing.T) {
	c := Default()
	if len(c.Proxies()) != 0 {
		t.Fatalf("default trusts proxies %v, want none", c.Proxies())
	}
	c.TrustedProxies = " 10.1.2.3/8 , ::ffff:192.0.2.1,2001:db8::1 ,"
	got := fmt.Sprint(c.Proxies())
	if want := "[10.0.0.0/8 192.0.2.1/32 2001:db8::1/128]"; got != want {
		t.Fatalf("Proxies() = %s, want %s", got, want)
	}
	c.TrustedProxies = "nope"
	c.SigninRatePerMinute = -1
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "WARD_TRUSTED_PROXIES") || !strings.Contains(err.Error(), "sign-in rate per minute") {
		t.Fatalf("Validate() = %v, want both problems named", err)
	}
	if Default().SigninRatePerMinute != 60 {
		t.Fatalf("default sign-in rate %d, want 60", Default().SigninRatePerMinute)
	}
}

func TestPublicIssuerAndCookies(t *testing.T) {
	tests := []struct {
		addr, issuer string
		want         string
		secure       bool
	}{
		{"127.0.0.1:8080", "", "http://127.0.0.1:8080", false},
		{"127.0.0.1:8080", "https://id.example.org/", "https://id.example.org", true},
		{"0.0.0.0:80", "HTTPS://ID.example.org", "HTTPS://ID.example.org", true},
		{"0.0.0.0:80", "http://localhost:8080", "http://localhost:8080", false},
	}
	for _, tt := range tests {
		c := Default()
		c.Addr, c.Issuer = tt.addr, tt.issuer
		if got := c.PublicIssuer(); got != tt.want {
			t.Errorf("PublicIssuer(addr %q, issuer %q) = %q, want %q", tt.addr, tt.issuer, got, tt.want)
		}
		if got := c.SecureCookies(); got != tt.secure {
			t.Errorf("SecureCookies(issuer %q) = %v, want %v", tt.issuer, got, tt.secure)
		}
	}
}

// TestSMTPPasswordNeverEchoed: no SMTP validation error repeats the
// password.
func TestSMTPPasswordNeverEchoed(t *testing.T) {
	c := Default()
	c.SMTP = SMTP{Host: "smtp.example.org", Port: 0, Username: "u\n", Password: "hunter2\n", From: "x", TLS: SMTPNoTLS}
	err := c.Validate()
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Validate() = %v", err)
	}
}
