// Package metrics holds the daemon's Prometheus metrics and the metrics
// HTTP endpoint. Metrics are registered on a registry the caller injects,
// never on the global one, so tests and several daemons in one process do
// not collide.
package metrics

import (
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics records requests, commands and delegate calls. It implements the
// server's request observer and attach.Observer.
type Metrics struct {
	requests        *prometheus.CounterVec
	commandLatency  *prometheus.HistogramVec
	delegateLatency *prometheus.HistogramVec
	delegateErrors  *prometheus.CounterVec
	inFlight        prometheus.Gauge
	corruptCache    prometheus.Counter
	pendingDeletes  prometheus.Gauge
	deleteRetries   *prometheus.CounterVec
	deleteGiveUps   prometheus.Counter
	orphansReleased prometheus.Counter
	apiRequests     *prometheus.CounterVec
}

// Buckets from 5 ms to about 80 s: delegates range from a few ms (bridge)
// to tens of seconds (IPAM waiting on an API).
var latencyBuckets = prometheus.ExponentialBuckets(0.005, 2, 15)

// New creates the metrics and registers them on reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		// Same name and labels as upstream, so existing dashboards work.
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "multus_server_request_total",
			Help: "HTTP requests to the daemon socket, by handler, status code and method.",
		}, []string{"handler", "code", "method"}),
		commandLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "multus_command_duration_seconds",
			Help:    "Time to handle one CNI command on /cni or /delegate, by handler, command and result.",
			Buckets: latencyBuckets,
		}, []string{"handler", "command", "result"}),
		delegateLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "multus_delegate_duration_seconds",
			Help:    "Time of one delegate plugin call, by delegate type and command.",
			Buckets: latencyBuckets,
		}, []string{"type", "command"}),
		delegateErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "multus_delegate_errors_total",
			Help: "Delegate plugin calls that failed, by delegate type and command.",
		}, []string{"type", "command"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "multus_requests_in_flight",
			Help: "CNI commands being handled right now (/cni and /delegate).",
		}),
		corruptCache: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "multus_corrupt_cache_total",
			Help: "Scratch cache files that could not be read at DEL.",
		}),
		pendingDeletes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "multus_pending_deletes",
			Help: "Containers whose DEL (or ADD rollback) failed and is being retried in the background.",
		}),
		deleteRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "multus_delete_retries_total",
			Help: "Background retries of failed DELs, by result (released, failed, gave-up).",
		}, []string{"result"}),
		deleteGiveUps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "multus_delete_giveups_total",
			Help: "Failed DELs given up after the retry age limit (their record is kept).",
		}),
		orphansReleased: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "multus_reconcile_released_total",
			Help: "Containers released by reconciliation because their pod and netns were gone.",
		}),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "multus_apiserver_requests_total",
			Help: "Requests the daemon sent to the Kubernetes API server, by verb (get, list, watch, create, update, patch, delete) and resource (pods, pods/status, events, ...).",
		}, []string{"verb", "resource"}),
	}
	for _, c := range []prometheus.Collector{
		m.requests, m.commandLatency, m.delegateLatency, m.delegateErrors, m.inFlight, m.corruptCache,
		m.pendingDeletes, m.deleteRetries, m.deleteGiveUps, m.orphansReleased, m.apiRequests,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// RequestDone counts one HTTP request. The method label is lower case, as
// upstream's promhttp instrumentation writes it.
func (m *Metrics) RequestDone(handler, method string, code int) {
	m.requests.WithLabelValues(handler, strconv.Itoa(code), strings.ToLower(method)).Inc()
}

// CommandDone observes one CNI command's latency.
func (m *Metrics) CommandDone(handler, command string, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.commandLatency.WithLabelValues(handler, command, result).Observe(d.Seconds())
}

// InFlight moves the in-flight gauge by delta.
func (m *Metrics) InFlight(delta int) { m.inFlight.Add(float64(delta)) }

// DelegateDone observes one delegate call (attach.Observer).
func (m *Metrics) DelegateDone(delegateType, command string, d time.Duration, err error) {
	m.delegateLatency.WithLabelValues(delegateType, command).Observe(d.Seconds())
	if err != nil {
		m.delegateErrors.WithLabelValues(delegateType, command).Inc()
	}
}

// CorruptCache counts an unreadable scratch cache (attach.Observer).
func (m *Metrics) CorruptCache(string) { m.corruptCache.Inc() }

// PendingDeletes sets the pending-delete gauge (release.Metrics).
func (m *Metrics) PendingDeletes(n int) { m.pendingDeletes.Set(float64(n)) }

// DeleteRetried counts one background DEL retry (release.Metrics).
func (m *Metrics) DeleteRetried(result string) {
	m.deleteRetries.WithLabelValues(result).Inc()
	if result == "gave-up" {
		m.deleteGiveUps.Inc()
	}
}

// OrphanReleased counts one container released by reconciliation.
func (m *Metrics) OrphanReleased() { m.orphansReleased.Inc() }

// APIRequest counts one request to the API server (kube.RequestObserver).
func (m *Metrics) APIRequest(verb, resource string) {
	m.apiRequests.WithLabelValues(verb, resource).Inc()
}

// Handler serves /metrics from g and, with pprof, /debug/pprof/*.
func Handler(g prometheus.Gatherer, enablePprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	if enablePprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}
