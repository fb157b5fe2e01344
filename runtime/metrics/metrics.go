// Package metrics holds the runtime's Prometheus collectors, registered on
// a registry of their own (no global state), served at GET /metrics.
//
// A Metrics is created once at start-up and shared; every collector is
// safe for concurrent use.
package metrics

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// Metrics is every collector of the runtime.
type Metrics struct {
	Registry *prometheus.Registry

	// Callbacks counts callbacks by vendor and result (stored, duplicate,
	// malformed, too_large, unauthorized, forbidden, unavailable).
	Callbacks *prometheus.CounterVec
	// Events counts stored events by vendor and type.
	Events *prometheus.CounterVec
	// AckSeconds is the time from request to durable acknowledgement.
	AckSeconds prometheus.Histogram
	// PluginEvents counts plugin invocations by plugin and result (ok, error, timeout).
	PluginEvents *prometheus.CounterVec
	// HandleSeconds is the time a plugin took for one event.
	HandleSeconds *prometheus.HistogramVec
	// Reloads counts plugin loads by plugin and result (ok, failed, removed).
	Reloads *prometheus.CounterVec
	// Calls counts binding calls by vendor, method and result.
	Calls *prometheus.CounterVec
	// LimitWaitSeconds is how long calls queued on a rate-limit rule.
	LimitWaitSeconds *prometheus.HistogramVec
	// LimitRejected counts calls that gave up waiting on a rule.
	LimitRejected *prometheus.CounterVec
	// VendorThrottles counts the vendors' own throttle answers, by rule.
	VendorThrottles *prometheus.CounterVec
	// Outbox counts outbox sends by vendor and result: sent, resent (sent
	// again after a restart: possibly a duplicate), retry, dead.
	Outbox *prometheus.CounterVec
}

// New creates and registers the collectors, with Go and process collectors.
func New() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.Callbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_callbacks_total", Help: "Vendor callbacks received, by vendor and result.",
	}, []string{"vendor", "result"})
	m.Events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_events_total", Help: "Events stored in the journal, by vendor and type.",
	}, []string{"vendor", "type"})
	m.AckSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "switchboard_callback_ack_seconds", Help: "Time from receiving a callback to its durable acknowledgement.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
	})
	m.PluginEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_plugin_events_total", Help: "Events handled by plugins, by plugin and result.",
	}, []string{"plugin", "result"})
	m.HandleSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "switchboard_plugin_handle_seconds", Help: "Time a plugin took to handle one event.",
		Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18),
	}, []string{"plugin"})
	m.Reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_plugin_loads_total", Help: "Plugin loads and unloads, by plugin and result.",
	}, []string{"plugin", "result"})
	m.Calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_binding_calls_total", Help: "Binding calls made by plugins, by vendor, method and result.",
	}, []string{"vendor", "method", "result"})
	m.LimitWaitSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "switchboard_limit_wait_seconds", Help: "Time calls waited for their turn, by rate-limit rule.",
		Buckets: []float64{.001, .01, .1, .5, 1, 2, 5, 10, 30},
	}, []string{"rule"})
	m.LimitRejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_limit_rejected_total", Help: "Calls that gave up waiting for their turn, by rate-limit rule.",
	}, []string{"rule"})
	m.VendorThrottles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_vendor_throttles_total", Help: "Vendor throttle answers that paused a rate-limit key, by rule.",
	}, []string{"rule"})
	m.Outbox = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_outbox_sends_total", Help: "Outbox sends by vendor and result (sent, resent, retry, dead).",
	}, []string{"vendor", "result"})
	m.Registry.MustRegister(m.Callbacks, m.Events, m.AckSeconds, m.PluginEvents, m.HandleSeconds, m.Reloads, m.Calls,
		m.LimitWaitSeconds, m.LimitRejected, m.VendorThrottles, m.Outbox,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handled implements dispatch.Observer.
func (m *Metrics) Handled(pluginName string, ev *event.Event, took time.Duration, err error) {
	result := "ok"
	switch {
	case errors.Is(err, plugin.ErrTimeout):
		result = "timeout"
	case err != nil:
		result = "error"
	}
	m.PluginEvents.WithLabelValues(pluginName, result).Inc()
	m.HandleSeconds.WithLabelValues(pluginName).Observe(took.Seconds())
}

// Waited implements limits.Observer.
func (m *Metrics) Waited(rule string, d time.Duration) {
	m.LimitWaitSeconds.WithLabelValues(rule).Observe(d.Seconds())
}

// Limited implements limits.Observer.
func (m *Metrics) Limited(rule string) { m.LimitRejected.WithLabelValues(rule).Inc() }

// Throttled implements limits.Observer.
func (m *Metrics) Throttled(rule, _ string, _ time.Duration) {
	m.VendorThrottles.WithLabelValues(rule).Inc()
}
