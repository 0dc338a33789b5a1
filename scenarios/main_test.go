//go:build e2e

// Package scenarios is the conformance suite: e2e-framework features that
// drive real pods through runtime → multus-shim → multus-daemon →
// delegates on the lab (`make lab-up`) and check, for every attachment,
// that the network-status annotation and the pod's own netns agree and are
// exactly what the scenario expects.
//
//	go test -tags e2e ./scenarios/ -args --kubeconfig=_artifacts/kubeconfig
//	    [--labels profile=upstream] [--labels area=attach] [--skip-disruptive]
//	    [--skip-labels disruptive=true] [--feature REGEX]
//
// Every feature carries profile=upstream (behaviour upstream Multus thick
// has too: the conformance profile, `make conformance`) or
// profile=extended (our additions); a feature without one fails.
//
// Settings beyond the flags come from MT_E2E_* variables (e2eutil.SettingsFrom).
package scenarios

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/types"
	"sigs.k8s.io/kind/pkg/cluster"

	"github.com/multus-thick/multus-thick/scenarios/internal/e2eutil"
)

var (
	testenv env.Environment
	lab     *e2eutil.Lab
	// workers are the two worker nodes, sorted; scenarios pin pods to them.
	workers []string
)

// nsKey is the context key of the current test's namespace (an unexported
// type, so no other package can collide with it).
type nsKey struct{}

// startKey holds when the current test started, for log filtering.
type startKey struct{}

// The profiles a feature's profile label may name.
var profiles = []string{"upstream", "extended"}

// skipDisruptive leaves out the features that restart the daemon or the
// nodes (disruptive=true), for clusters that others use meanwhile. It is
// registered on the flag set e2e-framework parses; MT_E2E_SKIP_DISRUPTIVE=1
// (make SKIP_DISRUPTIVE=1) does the same.
var skipDisruptive = flag.Bool("skip-disruptive", false, "skip the features labelled disruptive=true (for shared clusters)")

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	settings := e2eutil.SettingsFrom(os.LookupEnv)
	if err := settings.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "scenarios: %v\n", err)
		return 2
	}
	cfg, err := envconf.NewFromFlags()
	if err != nil {
		fmt.Fprintf(os.Stderr, "scenarios: flags: %v\n", err)
		return 2
	}
	if *skipDisruptive || settings.SkipDisruptive {
		cfg.WithSkipLabels(withLabel(cfg.SkipLabels(), "disruptive", "true"))
	}
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		// go test -list only names the tests; it must not need a cluster.
		cfg.WithDryRunMode()
	}
	if cfg.KubeconfigFile() == "" {
		kc := settings.Kubeconfig
		if kc == "" {
			// `make lab-up` writes it here; go test runs in scenarios/.
			kc = filepath.Join("..", "_artifacts", "kubeconfig")
		}
		cfg.WithKubeconfigFile(kc)
	}
	testenv = env.NewWithConfig(cfg)
	testenv.Setup(setupLab(settings))
	testenv.BeforeEachTest(createNamespace)
	testenv.BeforeEachFeature(requireProfile)
	testenv.AfterEachTest(deleteNamespace)
	testenv.Finish(exportLogs)
	return testenv.Run(m)
}

// setupLab connects to the lab and checks it is the lab: two workers and
// a rolled-out daemon. A lab that is not up fails here, once, instead of
// in every scenario.
func setupLab(s e2eutil.Settings) env.Func {
	return func(ctx context.Context, cfg *envconf.Config) (context.Context, error) {
		if cfg.DryRunMode() {
			return ctx, nil
		}
		l, err := e2eutil.New(cfg, s, e2eutil.ExecRunner{})
		if err != nil {
			return ctx, err
		}
		if workers, err = l.Workers(ctx); err != nil {
			return ctx, fmt.Errorf("lab (kubeconfig %s): %w", cfg.KubeconfigFile(), err)
		}
		if err := l.WaitDaemonRolledOut(ctx, 3*time.Minute); err != nil {
			return ctx, fmt.Errorf("daemon %s/%s not ready: %w", s.DaemonNamespace, s.DaemonSet, err)
		}
		lab = l
		return ctx, nil
	}
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// withLabel returns labels plus key=value, leaving labels unchanged.
func withLabel(labels map[string][]string, key, value string) map[string][]string {
	out := map[string][]string{}
	for k, v := range labels {
		out[k] = append([]string(nil), v...)
	}
	if !slices.Contains(out[key], value) {
		out[key] = append(out[key], value)
	}
	return out
}

// requireProfile fails the test of a feature that names no profile, so
// that no scenario drops out of both `make conformance` and the profile
// table unnoticed. (The hook gets the Test's t, not the feature's, so it
// reports with Errorf; FailNow would run on the wrong goroutine.)
func requireProfile(ctx context.Context, _ *envconf.Config, t *testing.T, f types.Feature) (context.Context, error) {
	for _, p := range profiles {
		if f.Labels().Contains("profile", p) {
			return ctx, nil
		}
	}
	t.Errorf("feature %q has no profile label: add WithLabel(\"profile\", %q) or %q (see scenarios/README.md)", f.Name(), profiles[0], profiles[1])
	return ctx, nil
}

// createNamespace gives each test its own namespace, "mt-<run>-<test>".
func createNamespace(ctx context.Context, cfg *envconf.Config, t *testing.T) (context.Context, error) {
	name := "mt-" + lab.S.RunID + "-" + strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(strings.TrimPrefix(t.Name(), "Test")), "-"), "-")
	if len(name) > 63 {
		name = strings.TrimRight(name[:63], "-")
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"multus-thick.e2e/run": lab.S.RunID}}}
	if err := lab.Res.Create(ctx, ns); err != nil {
		return ctx, fmt.Errorf("create namespace %s: %w", name, err)
	}
	// Pods need the namespace's default ServiceAccount, which the
	// controller-manager adds shortly after.
	err := e2eutil.Until(ctx, time.Minute, func(ctx context.Context) (string, error) {
		sa := &corev1.ServiceAccount{}
		if err := lab.Res.Get(ctx, "default", name, sa); err != nil {
			return "no default service account yet", nil
		}
		return "", nil
	})
	if err != nil {
		return ctx, fmt.Errorf("namespace %s: %w", name, err)
	}
	t.Logf("namespace %s", name)
	ctx = context.WithValue(ctx, startKey{}, time.Now())
	return context.WithValue(ctx, nsKey{}, name), nil
}

// deleteNamespace prints diagnostics when the test failed, then deletes
// the namespace and waits until it is gone, so that pods being torn down
// do not disturb the next scenario's node-side checks. With MT_E2E_KEEP=1
// (make repro) everything stays.
func deleteNamespace(ctx context.Context, cfg *envconf.Config, t *testing.T) (context.Context, error) {
	name := namespace(ctx)
	if t.Failed() {
		lab.Diagnose(ctx, t, name, ctx.Value(startKey{}).(time.Time).Add(-5*time.Second))
	}
	if lab.S.Keep {
		t.Logf("keeping namespace %s (MT_E2E_KEEP)", name)
		return ctx, nil
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := lab.Res.Delete(ctx, ns); err != nil {
		return ctx, fmt.Errorf("delete namespace %s: %w", name, err)
	}
	return ctx, lab.WaitNamespaceGone(ctx, name, 3*time.Minute)
}

// exportLogs removes the node pods (MT_E2E_NODE_ACCESS=pod), then writes
// the daemon's logs and, on kind (node access through docker), the nodes'
// logs to MT_E2E_ARTIFACTS when it is set.
func exportLogs(ctx context.Context, cfg *envconf.Config) (context.Context, error) {
	if lab == nil {
		return ctx, nil
	}
	closeErr := lab.Close(ctx)
	if lab.S.Artifacts == "" {
		return ctx, closeErr
	}
	dir := lab.S.Artifacts
	if err := lab.ExportDaemonLogs(ctx, filepath.Join(dir, "daemon")); err != nil {
		return ctx, errors.Join(closeErr, err)
	}
	if lab.S.NodeAccess == e2eutil.NodeAccessDocker {
		if err := cluster.NewProvider().CollectLogs(lab.S.Cluster, filepath.Join(dir, "kind")); err != nil {
			return ctx, errors.Join(closeErr, fmt.Errorf("kind logs of %s: %w", lab.S.Cluster, err))
		}
	}
	return ctx, closeErr
}

// namespace returns the current test's namespace.
func namespace(ctx context.Context) string {
	ns, _ := ctx.Value(nsKey{}).(string)
	return ns
}
