package mis

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"ward/internal/apperr"
)

// Metrics are the per-call metrics of every connector: build one set for
// the process (NewMetrics with ward's registry) and give it to each
// Client, so that several connectors share the metric families and are
// told apart by the connector label.
type Metrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the connector metrics with reg; a nil reg leaves
// them unregistered (counted, never exported).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ward_connector_calls_total",
			Help: "Calls to external systems through connectors, by connector, operation and outcome (ok, or the error kind).",
		}, []string{"connector", "operation", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ward_connector_call_duration_seconds",
			Help:    "Latency of connector calls, retries and waits included, by connector and operation.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"connector", "operation"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.calls, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register connector metrics: %w", err)
		}
	}
	return m, nil
}

// Outcome is the outcome label of err: "ok", or its apperr kind
// ("not_found", "unavailable", ...).
func Outcome(err error) string {
	if err == nil {
		return "ok"
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Kind.String()
	}
	return apperr.Internal.String()
}

// Calls is the counter of one connector, operation and outcome, for tests
// and the status page.
func (m *Metrics) Calls(connector, operation, outcome string) prometheus.Counter {
	return m.calls.WithLabelValues(connector, operation, outcome)
}

func (m *Metrics) observe(connector, operation string, err error, d time.Duration) {
	m.calls.WithLabelValues(connector, operation, Outcome(err)).Inc()
	m.duration.WithLabelValues(connector, operation).Observe(d.Seconds())
}
