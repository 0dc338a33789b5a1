package metrics

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func newTest(t *testing.T) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

func TestRecorders(t *testing.T) {
	t.Parallel()
	m, reg := newTest(t)
	m.RequestDone("/cni", "POST", 200)
	m.RequestDone("/cni", "POST", 200)
	m.RequestDone("NotFound", "GET", 404)
	m.CommandDone("/cni", "ADD", 30*time.Millisecond, nil)
	m.CommandDone("/cni", "DEL", time.Millisecond, errors.New("x"))
	m.InFlight(1)
	m.InFlight(1)
	m.InFlight(-1)
	m.DelegateDone("bridge", "ADD", 10*time.Millisecond, nil)
	m.DelegateDone("macvlan", "ADD", 10*time.Millisecond, errors.New("boom"))
	m.CorruptCache("abc")
	m.PendingDeletes(3)
	m.DeleteRetried("failed")
	m.DeleteRetried("failed")
	m.DeleteRetried("gave-up")
	m.OrphanReleased()
	m.APIRequest("patch", "pods/status")
	m.APIRequest("patch", "pods/status")
	m.APIRequest("create", "events")

	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"multus_server_request_total", map[string]string{"handler": "/cni", "code": "200", "method": "post"}, 2},
		{"multus_server_request_total", map[string]string{"handler": "NotFound", "code": "404", "method": "get"}, 1},
		{"multus_requests_in_flight", nil, 1},
		{"multus_delegate_errors_total", map[string]string{"type": "macvlan", "command": "ADD"}, 1},
		{"multus_corrupt_cache_total", nil, 1},
		{"multus_pending_deletes", nil, 3},
		{"multus_delete_retries_total", map[string]string{"result": "failed"}, 2},
		{"multus_delete_retries_total", map[string]string{"result": "gave-up"}, 1},
		{"multus_delete_giveups_total", nil, 1},
		{"multus_reconcile_released_total", nil, 1},
		{"multus_apiserver_requests_total", map[string]string{"verb": "patch", "resource": "pods/status"}, 2},
		{"multus_apiserver_requests_total", map[string]string{"verb": "create", "resource": "events"}, 1},
		// Histograms: the sample count.
		{"multus_command_duration_seconds", map[string]string{"handler": "/cni", "command": "ADD", "result": "ok"}, 1},
		{"multus_command_duration_seconds", map[string]string{"handler": "/cni", "command": "DEL", "result": "error"}, 1},
		{"multus_delegate_duration_seconds", map[string]string{"type": "bridge", "command": "ADD"}, 1},
		{"multus_delegate_duration_seconds", map[string]string{"type": "macvlan", "command": "ADD"}, 1},
	}
	for _, tc := range tests {
		if got, ok := value(t, reg, tc.name, tc.labels); !ok || got != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	if _, ok := value(t, reg, "multus_delegate_errors_total", map[string]string{"type": "bridge", "command": "ADD"}); ok {
		t.Error("a successful delegate call counted as an error")
	}
}

// value returns the value (counter, gauge) or sample count (histogram) of
// the series of name with exactly labels.
func value(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !sameLabels(m.GetLabel(), labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func sameLabels(got []*dto.LabelPair, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, l := range got {
		if want[l.GetName()] != l.GetValue() {
			return false
		}
	}
	return true
}

func TestRegisterTwiceOnOneRegistryFails(t *testing.T) {
	t.Parallel()
	_, reg := newTest(t)
	if _, err := New(reg); err == nil {
		t.Fatal("second New on the same registry succeeded")
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		pprof     bool
		path      string
		wantCode  int
		wantInBod string
	}{
		{"metrics", false, "/metrics", 200, "multus_server_request_total"},
		{"pprof off", false, "/debug/pprof/", 404, ""},
		{"pprof on", true, "/debug/pprof/", 200, "goroutine"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, reg := newTest(t)
			m.RequestDone("/healthz", "GET", 200)
			rec := httptest.NewRecorder()
			Handler(reg, tc.pprof).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.wantCode || !strings.Contains(rec.Body.String(), tc.wantInBod) {
				t.Errorf("code %d body %.200q", rec.Code, rec.Body.String())
			}
		})
	}
}
