package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"ward/internal/connector"
	"ward/internal/connector/mis"
	"ward/internal/directory"
	"ward/internal/outbound"
)

// misMaxBytes caps a MIS response body: a page of profiles is well below.
const misMaxBytes = 8 << 20

// MISClients builds the MIS client (internal/connector/mis) of a connector
// on demand, so a connector created or re-pointed at run time is used at
// once: its base URL is read from the connector on each call, its tokens
// come from the connector service, and every client shares one outbound
// HTTP client and one set of metrics.
type MISClients struct {
	conns   *connector.Service
	dir     *directory.Service
	http    *http.Client
	metrics *mis.Metrics
	logger  *slog.Logger
	now     func() time.Time
}

func newMISClients(conns *connector.Service, dir *directory.Service, allowPrivate bool, o options) *MISClients {
	// Unregistered until server.New registers the metrics with its registry.
	m, _ := mis.NewMetrics(nil)
	return &MISClients{conns: conns, dir: dir, metrics: m, logger: o.logger, now: o.now,
		http: outbound.New(outbound.Policy{AllowPrivate: allowPrivate},
			outbound.Limits{Timeout: mis.DefaultTimeout, MaxBytes: misMaxBytes}).HTTPClient()}
}

// Client is the MIS client of the connector name (apperr.NotFound when
// there is no such connector). It checks no caller: the pass-through API
// authorizes with connector.Service.Call first.
func (f *MISClients) Client(ctx context.Context, name string) (*mis.Client, error) {
	base, system, err := f.conns.Endpoint(ctx, name)
	if err != nil {
		return nil, err
	}
	return mis.New(mis.Config{Name: name, BaseURL: base, Tokens: f.conns, HTTPClient: f.http,
		IDMap:   mis.DirectoryIDMap{Users: f.dir, System: system},
		Logger:  f.logger.With("connector", name),
		Metrics: f.metrics, Now: f.now})
}
