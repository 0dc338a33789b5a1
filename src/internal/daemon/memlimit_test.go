package daemon

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/multus-thick/multus-thick/src/internal/config"
)

func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	const mi = 1 << 20
	tests := []struct {
		name       string
		key        string
		gomemlimit string
		files      map[string]string // under the cgroup root
		want       int64
		wantSource string
		wantErr    string
	}{
		{name: "cgroup v2 limit", files: map[string]string{"memory.max": "536870912\n"}, want: 512 * mi * 9 / 10, wantSource: "cgroup"},
		{name: "cgroup v2 unlimited", files: map[string]string{"memory.max": "max\n"}, wantSource: "no cgroup memory limit"},
		{name: "cgroup v1 limit", files: map[string]string{"memory/memory.limit_in_bytes": "268435456"}, want: 256 * mi * 9 / 10, wantSource: "cgroup"},
		{name: "cgroup v1 unlimited", files: map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712"}, wantSource: "no cgroup memory limit"},
		{name: "no cgroup files", wantSource: "no cgroup memory limit"},
		{name: "garbage", files: map[string]string{"memory.max": "lots"}, wantErr: "not a number"},
		{name: "explicit key wins over the cgroup", key: "400Mi", files: map[string]string{"memory.max": "536870912"}, want: 400 * mi, wantSource: "memoryLimit"},
		{name: "explicit key wins over GOMEMLIMIT", key: "100Mi", gomemlimit: "50MiB", want: 100 * mi, wantSource: "memoryLimit"},
		{name: "GOMEMLIMIT is left to the runtime", gomemlimit: "300MiB", files: map[string]string{"memory.max": "536870912"}, wantSource: "GOMEMLIMIT"},
		{name: "off", key: "off", files: map[string]string{"memory.max": "536870912"}, wantSource: "memoryLimit off"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			for f, content := range tc.files {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, f), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg := &config.Config{MemoryLimit: tc.key}
			getenv := func(k string) string {
				if k == "GOMEMLIMIT" {
					return tc.gomemlimit
				}
				return ""
			}
			got, source, err := memoryLimit(cfg, getenv, root)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want || source != tc.wantSource {
				t.Errorf("memoryLimit = %d, %q, %v; want %d, %q", got, source, err, tc.want, tc.wantSource)
			}
		})
	}
}

// TestMetricsPprofGuard: pprof is served only on a bind address other
// than every interface, or when asked for explicitly.
func TestMetricsPprofGuard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  config.Config
		want int
	}{
		{"all interfaces: refused", config.Config{EnablePprof: true}, http.StatusNotFound},
		{"loopback bind", config.Config{EnablePprof: true, MetricsBindAddress: "127.0.0.1"}, http.StatusOK},
		{"explicit ask", config.Config{EnablePprof: true, PprofOnAllInterfaces: true}, http.StatusOK},
		{"not enabled", config.Config{MetricsBindAddress: "127.0.0.1"}, http.StatusNotFound},
	}
	for _, tc := range tests {
		var logs strings.Builder
		h, _ := metricsHandler(&tc.cfg, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(&logs, nil)))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
		if rec.Code != tc.want {
			t.Errorf("%s: /debug/pprof/ = %d, want %d", tc.name, rec.Code, tc.want)
		}
		if refused := strings.Contains(logs.String(), "enablePprof refused"); refused != (tc.cfg.EnablePprof && tc.want != http.StatusOK) {
			t.Errorf("%s: refusal logged = %v: %s", tc.name, refused, logs.String())
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			t.Errorf("%s: /metrics = %d", tc.name, rec.Code)
		}
	}
}
