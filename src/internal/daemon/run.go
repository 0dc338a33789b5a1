package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

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
	"github.com/multus-thick/multus-thick/src/internal/readiness"
	"github.com/multus-thick/multus-thick/src/internal/resolve"
	"github.com/multus-thick/multus-thick/src/internal/server"
)

// The real backend is what the server is written against.
var (
	_ server.CNI           = (*attach.Attacher)(nil)
	_ server.Observer      = (*metrics.Metrics)(nil)
	_ attach.Observer      = (*metrics.Metrics)(nil)
	_ kube.RequestObserver = (*metrics.Metrics)(nil)
)

// run wires and runs the daemon until ctx ends. Background work (informers,
// the watch) lives on its own context, so it keeps running while in-flight
// requests drain after the signal.
func run(ctx context.Context, env Env, cfg *config.Config, log *slog.Logger) error {
	logStartup(log, cfg)
	if !env.IsRoot() {
		return fail(ExitServer, "multus-daemon must run as root (uid 0): delegates configure network namespaces")
	}
	applyMemoryLimit(cfg, env, log)
	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(reg)
	if err != nil {
		return fail(ExitServer, "metrics: %w", err)
	}
	ex := newExec(cfg)
	backend, err := newBackend(bg, env, cfg, log, m, ex)
	if err != nil {
		return err
	}
	srv, err := server.New(server.Options{
		CNI: backend, Override: cfg.RequestOverride(), Logger: log, Observer: m,
		ConnectionLimit: cfg.ConnectionLimit, RequestTimeout: cfg.RequestTimeout.D(),
		Readiness:    indicator(env, cfg),
		MaxBodyBytes: int64(cfg.MaxRequestBytes), BodyTimeout: cfg.RequestBodyTimeout.D(), SelfCalls: ex,
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
		drain(srv, cfg.ShutdownDrainPeriod.D(), env.Hurry, log)
		// 00-multus.conf stays (upstream #1527): the runtime keeps calling
		// the shim, which waits for the next daemon. Upstream deletes it
		// when its drain ends, so deleteConfOnExit does the same.
		if cfg.DeleteConfOnExit {
			removeConf(cfg, log)
		}
		// The deferred shutdown closes the listener and lets in-flight
		// requests finish within shutdownGracePeriod.
		return nil
	case err := <-serveErr:
		return fail(ExitServer, "serve: %w", err)
	case err := <-watchErr:
		return fail(ExitConfigManager, "config manager: %w", err)
	}
}

// newExec is the one delegate executor: the attacher runs plugins with it,
// the server asks it about self-calls, the resolver finds plugin files
// through it.
func newExec(cfg *config.Config) *delegate.Exec {
	ex := delegate.NewExec()
	if cfg.ChrootDir != "" {
		ex = delegate.NewChrootExec(cfg.ChrootDir)
	}
	ex.MaxPerPod = cfg.MaxDelegatesPerPod
	return ex
}

// newBackend builds the Kubernetes side (when there is a cluster), the
// resolver and the attacher.
func newBackend(bg context.Context, env Env, cfg *config.Config, log *slog.Logger, m *metrics.Metrics, ex *delegate.Exec) (server.CNI, error) {
	opts := attach.Options{
		Exec:                   ex,
		DelegateTimeout:        cfg.DelegateTimeout.D(),
		MaxConcurrentDelegates: cfg.MaxConcurrentDelegates,
		Observer:               m,
		BinDir:                 cfg.BinDir,
		CNIDir:                 cfg.CNIDir,
		CNIPath:                splitPath(env.Getenv("CNI_PATH")),
	}
	ropts := resolve.Options{
		Logger:    log,
		Limits:    resolve.Limits{MaxNetworks: cfg.MaxNetworksPerPod, MaxNADConfigBytes: cfg.MaxNADConfigBytes},
		SelfTypes: []string{cfg.Type},
		Plugins:   delegate.Locator{Exec: ex, ExtraPaths: opts.CNIPath},
	}
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
			MaxNADConfigBytes: cfg.MaxNADConfigBytes, Requests: m,
			Events: kube.EventsMode(cfg.AddedInterfaceEvents),
		}, log)
		if err != nil {
			return nil, fail(ExitServer, "kubernetes client: %w", err)
		}
		// A failed sync is not fatal: lookups fall back to live GETs and
		// the informers keep retrying (upstream only logs it too).
		if err := kc.Start(bg); err != nil {
			log.Warn("kubernetes caches not synced; continuing", "err", err)
		}
		opts.Pods, opts.Status, opts.Events = kc.Pods(), kc.Status(), kc.Events()
		ropts.NADs, ropts.Events = kc.NADs(), kc.Events()
		ropts.DeviceIDs = deviceid.New(deviceid.Config{Client: kc.Resource(), Logger: log})
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
	if ind := indicator(env, cfg); ind.Path != "" {
		log.Info("waiting for the readiness indicator file", "path", ind.Path, "timeout", ind.Timeout)
		if err := ind.Wait(ctx); err != nil {
			return nil, fail(ExitConfig, "%w", err)
		}
	}
	if !cfg.Auto() {
		// Upstream exits here (#1366); we keep serving. A failed copy is
		// logged, as upstream, since the file may already be in place.
		if dst, err := autoconf.InstallUserConfig(cfg.MultusConfigFile, cfg.CNIConfigDir); err != nil {
			log.Error("copy the Multus config", "file", cfg.MultusConfigFile, "dir", cfg.CNIConfigDir, "err", err)
		} else {
			log.Info("installed the Multus config", "path", dst)
		}
		return nil, nil
	}
	mgr, err := autoconf.New(autoconf.Options{
		AutoconfigDir: cfg.MultusAutoconfigDir, ConfDir: cfg.CNIConfigDir, MasterCNI: cfg.MultusMasterCNI,
		// No ReadinessIndicatorFile: its removal (flannel restarting) must
		// not stop the daemon and delete 00-multus.conf, as upstream does;
		// the server's gate makes new ADDs wait for it instead.
		ForceCNIVersion: cfg.ForceCNIVersion,
		Spec:            generatedSpec(cfg), FindTimeout: env.PrimaryTimeout, Logger: log,
		SettlePeriod: cfg.PrimarySettlePeriod.D(),
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

// indicator is the readiness indicator file as the daemon sees it (Path ""
// when none is configured).
func indicator(env Env, cfg *config.Config) readiness.Indicator {
	return readiness.Indicator{Path: cfg.ReadinessIndicatorFile, Interval: env.ReadinessInterval, Timeout: cfg.ReadinessTimeout.D()}
}

// drain is the first part of a signalled stop: /readyz answers 500 at once
// while /healthz, /cni and /delegate are still served for period, so a DEL
// (which the shim gates on /healthz) is answered here and shims wait for
// the next daemon for everything else. A second signal (hurry) ends it
// early. period 0 skips it (no drain, the behaviour before the key).
func drain(srv *server.Server, period time.Duration, hurry <-chan struct{}, log *slog.Logger) {
	srv.SetShuttingDown()
	log.Info("signal received: /readyz now fails; still serving /healthz, /cni and /delegate",
		"drainPeriod", period)
	if period <= 0 {
		return
	}
	start := time.Now()
	t := time.NewTimer(period)
	defer t.Stop()
	select {
	case <-t.C:
		log.Info("drain period over", "elapsed", time.Since(start).Round(time.Millisecond))
	case <-hurry:
		log.Info("second signal: drain period cut short", "elapsed", time.Since(start).Round(time.Millisecond))
	}
}

// shutdown closes the listener (the socket goes if it is still ours) and
// waits up to grace for in-flight requests. Before the daemon is ready (a
// signal during start-up) it is the only step, so the stop is immediate.
func shutdown(srv *server.Server, grace time.Duration, log *slog.Logger) {
	srv.SetShuttingDown()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("in-flight requests did not finish within the grace period", "gracePeriod", grace, "err", err)
		return
	}
	log.Info("server stopped", "elapsed", time.Since(start).Round(time.Millisecond))
}

// serveMetrics listens on metricsBindAddress (every interface when unset,
// as upstream). pprof is served only when PprofAllowed: on every
// interface it would hand heap contents and CPU profiles to anyone who
// can reach the node.
func serveMetrics(cfg *config.Config, reg *prometheus.Registry, log *slog.Logger) (func(), error) {
	l, err := net.Listen("tcp", net.JoinHostPort(cfg.MetricsBindAddress, strconv.Itoa(cfg.MetricsPort)))
	if err != nil {
		return nil, fail(ExitServer, "metrics listener: %w", err)
	}
	handler, pprof := metricsHandler(cfg, reg, log)
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	log.Info("serving metrics", "addr", l.Addr().String(), "pprof", pprof)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	}, nil
}

// metricsHandler serves the metrics, and pprof when cfg allows it.
func metricsHandler(cfg *config.Config, reg *prometheus.Registry, log *slog.Logger) (http.Handler, bool) {
	pprof := cfg.PprofAllowed()
	if cfg.EnablePprof && !pprof {
		log.Warn("enablePprof refused: the metrics listener is on every interface; set metricsBindAddress or pprofOnAllInterfaces",
			"metricsBindAddress", cfg.MetricsBindAddress)
	}
	return metrics.Handler(reg, pprof), pprof
}

func removeConf(cfg *config.Config, log *slog.Logger) {
	path := confPath(cfg)
	if err := autoconf.RemoveFile(path); err != nil {
		log.Error("deleteConfOnExit: remove Multus config", "path", path, "err", err)
		return
	}
	log.Info("deleteConfOnExit: removed Multus config", "path", path)
}
