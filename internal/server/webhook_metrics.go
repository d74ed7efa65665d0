package server

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// webhookMetrics counts webhook delivery attempts by outcome and times
// them (issue 15); the webhook package reports through its Observer
// interface, so that it needs no metrics library.
type webhookMetrics struct {
	attempts *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newWebhookMetrics(reg prometheus.Registerer) (*webhookMetrics, error) {
	m := &webhookMetrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ward_webhook_deliveries_total",
			Help: "Webhook delivery attempts, by outcome (succeeded, failed).",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ward_webhook_delivery_duration_seconds",
			Help:    "Latency of webhook delivery attempts, by outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"outcome"}),
	}
	for _, c := range []prometheus.Collector{m.attempts, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register webhook metrics: %w", err)
		}
	}
	return m, nil
}

// ObserveDelivery implements webhook.Observer.
func (m *webhookMetrics) ObserveDelivery(outcome string, latency time.Duration) {
	m.attempts.WithLabelValues(outcome).Inc()
	m.latency.WithLabelValues(outcome).Observe(latency.Seconds())
}
