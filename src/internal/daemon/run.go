package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"k8s.io/client-go/rest"

	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/autoconf"
	"github.com/multus-thick/multus-thick/src/internal/config"
	"github.com/multus-thick/multus-thick/src/internal/delegate"
	"github.com/multus-thick/multus-thick/src/internal/deviceid"
	"github.com/multus-thick/multus-thick/src/internal/kube"
	"github.com/multus-thick/multus-thick/src/internal/metrics"
	"github.com/multus-thick/multus-thick/src/internal/nodecert"
	"github.com/multus-thick/multus-thick/src/internal/resolve"
	"github.com/multus-thick/multus-thick/src/internal/server"
)

// The real backend is what the server is written against.
var (
	_ server.CNI      = (*attach.Attacher)(nil)
	_ server.Observer = (*metrics.Metrics)(nil)
	_ attach.Observer = (*metrics.Metrics)(nil)
)

// run wires and runs the daemon until ctx ends. Background work (informers,
// the watch) lives on its own context, so it keeps running while in-flight
// requests drain after the signal.
func run(ctx context.Context, env Env, cfg *config.Config, log *slog.Logger) error {
	logStartup(log, cfg)
	if !env.IsRoot() {
		return fail(ExitServer, "multus-daemon must run as root (uid 0): delegates configure network namespaces")
	}
	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(reg)
	if err != nil {
		return fail(ExitServer, "metrics: %w", err)
	}
	backend, err := newBackend(bg, env, cfg, log, m)
	if err != nil {
		return err
	}
	srv, err := server.New(server.Options{
		CNI: backend, Override: cfg.RequestOverride(), Logger: log, Observer: m,
		ConnectionLimit: cfg.ConnectionLimit, RequestTimeout: cfg.RequestTimeout.D(),
	})
	if err != nil {
		return fail(ExitServer, "%w", err)
	}
	l, err := server.Listen(cfg.SocketDir)
	if err != nil {
		return fail(ExitServer, "%w", err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(l) }()
	defer shutdown(srv, cfg.ShutdownGracePeriod.D(), log)
	log.Info("serving", "socket", l.Addr().String())

	if cfg.MetricsPort > 0 {
		stop, err := serveMetrics(cfg, reg, log)
		if err != nil {
			return err
		}
		defer stop()
	}

	watchErr, err := setupConfig(ctx, bg, env, cfg, log)
	if err != nil {
		if ctx.Err() != nil { // signalled during startup: a normal stop
			return nil
		}
		return err
	}
	log.Info("ready")

	select {
	case <-ctx.Done():
		log.Info("signal received: /readyz now fails, draining in-flight requests",
			"gracePeriod", cfg.ShutdownGracePeriod.D())
		// 00-multus.conf stays (upstream #1527): the runtime keeps calling
		// the shim, which waits for the next daemon.
		if cfg.DeleteConfOnExit {
			removeConf(cfg, log)
		}
		return nil
	case err := <-serveErr:
		return fail(ExitServer, "serve: %w", err)
	case err := <-watchErr:
		return fail(ExitConfigManager, "config manager: %w", err)
	}
}

// newBackend builds the Kubernetes side (when there is a cluster), the
// resolver and the attacher.
func newBackend(bg context.Context, env Env, cfg *config.Config, log *slog.Logger, m *metrics.Metrics) (server.CNI, error) {
	var exec invoke.Exec
	if cfg.ChrootDir != "" {
		exec = delegate.NewChrootExec(cfg.ChrootDir)
	}
	opts := attach.Options{
		Exec:                   exec,
		DelegateTimeout:        cfg.DelegateTimeout.D(),
		MaxConcurrentDelegates: cfg.MaxConcurrentDelegates,
		Observer:               m,
		BinDir:                 cfg.BinDir,
		CNIDir:                 cfg.CNIDir,
		CNIPath:                splitPath(env.Getenv("CNI_PATH")),
	}
	ropts := resolve.Options{Logger: log}
	var perNode *rest.Config
	if pnc := cfg.PerNodeCertificate; pnc != nil && pnc.Enabled {
		var err error
		perNode, err = nodecert.Start(bg, nodecert.Options{NodeName: env.Getenv("MULTUS_NODE_NAME"),
			BootstrapKubeconfig: pnc.BootstrapKubeconfig, CertDir: pnc.CertDir, CertDuration: pnc.CertDuration.D(), Logger: log})
		if err != nil {
			return nil, fail(ExitServer, "%w", err)
		}
	}
	if cfg.Kubeconfig != "" || env.Getenv("KUBERNETES_SERVICE_HOST") != "" || perNode != nil {
		kc, err := kube.New(kube.Config{
			Kubeconfig: cfg.Kubeconfig, REST: perNode, NodeName: env.Getenv("MULTUS_NODE_NAME"),
			QPS: cfg.APIQPS, Burst: cfg.APIBurst,
			PodLookupTimeout: cfg.PodLookupTimeout.D(), APITimeout: cfg.APITimeout.D(),
			NADRetryTimeout: cfg.NADRetryTimeout.D(), SyncTimeout: env.KubeSyncTimeout,
		}, log)
		if err != nil {
			return nil, fail(ExitServer, "kubernetes client: %w", err)
		}
		// A failed sync is not fatal: lookups fall back to live GETs and
		// the informers keep retrying (upstream only logs it too).
		if err := kc.Start(bg); err != nil {
			log.Warn("kubernetes caches not synced; continuing", "error", err)
		}
		opts.Pods, opts.Status, opts.Events = kc.Pods(), kc.Status(), kc.Events()
		ropts.NADs, ropts.Events = kc.NADs(), kc.Events()
		ropts.DeviceIDs = deviceid.New(deviceid.Config{Client: kc.Clientset(), Logger: log})
	} else {
		log.Warn("no kubeconfig and not in a cluster (KUBERNETES_SERVICE_HOST unset): " +
			"running without Kubernetes, networks come from files and inline delegates only")
	}
	opts.Resolver = resolve.New(ropts)
	rel := newReleaser(cfg, log, m)
	opts.OnPendingDelete = rel.kick
	backend, err := env.NewBackend(opts)
	if err != nil {
		return nil, fail(ExitServer, "attach: %w", err)
	}
	rel.start(bg, backend, opts.Pods)
	return backend, nil
}

// setupConfig waits for the readiness indicator, then produces the Multus
// config: generated and watched in auto mode, copied in non-auto mode. The
// returned channel reports the watch's end (nil channel: no watch).
func setupConfig(ctx, bg context.Context, env Env, cfg *config.Config, log *slog.Logger) (<-chan error, error) {
	if cfg.ReadinessIndicatorFile != "" {
		if err := autoconf.WaitForFile(ctx, cfg.ReadinessIndicatorFile, env.ReadinessInterval, env.ReadinessTimeout); err != nil {
			return nil, fail(ExitConfig, "%w", err)
		}
	}
	if !cfg.Auto() {
		// Upstream exits here (#1366); we keep serving. A failed copy is
		// logged, as upstream, since the file may already be in place.
		if dst, err := autoconf.InstallUserConfig(cfg.MultusConfigFile, cfg.CNIConfigDir); err != nil {
			log.Error("copy the Multus config", "file", cfg.MultusConfigFile, "dir", cfg.CNIConfigDir, "error", err)
		} else {
			log.Info("installed the Multus config", "path", dst)
		}
		return nil, nil
	}
	mgr, err := autoconf.New(autoconf.Options{
		AutoconfigDir: cfg.MultusAutoconfigDir, ConfDir: cfg.CNIConfigDir, MasterCNI: cfg.MultusMasterCNI,
		ForceCNIVersion: cfg.ForceCNIVersion, ReadinessIndicatorFile: cfg.ReadinessIndicatorFile,
		Spec: generatedSpec(cfg), FindTimeout: env.PrimaryTimeout, Logger: log,
	})
	if err != nil {
		return nil, fail(ExitConfigManager, "%w", err)
	}
	if err := mgr.Start(ctx); err != nil {
		return nil, fail(ExitConfigManager, "generate %s: %w", mgr.ConfPath(), err)
	}
	if cfg.SkipConfigWatch {
		return nil, nil
	}
	done := make(chan error, 1)
	go func() {
		if err := mgr.Watch(bg); err != nil {
			done <- err
		}
	}()
	return done, nil
}

// shutdown marks the server not ready and drains it within grace.
func shutdown(srv *server.Server, grace time.Duration, log *slog.Logger) {
	srv.SetShuttingDown()
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("in-flight requests did not finish within the grace period", "gracePeriod", grace, "error", err)
		return
	}
	log.Info("server stopped")
}

func serveMetrics(cfg *config.Config, reg *prometheus.Registry, log *slog.Logger) (func(), error) {
	l, err := net.Listen("tcp", fmt.Sprintf(":%d", cfg.MetricsPort))
	if err != nil {
		return nil, fail(ExitServer, "metrics listener: %w", err)
	}
	hs := &http.Server{Handler: metrics.Handler(reg, cfg.EnablePprof), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "error", err)
		}
	}()
	log.Info("serving metrics", "addr", l.Addr().String(), "pprof", cfg.EnablePprof)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	}, nil
}

func removeConf(cfg *config.Config, log *slog.Logger) {
	path := confPath(cfg)
	if err := autoconf.RemoveFile(path); err != nil {
		log.Error("deleteConfOnExit: remove Multus config", "path", path, "error", err)
		return
	}
	log.Info("deleteConfOnExit: removed Multus config", "path", path)
}
