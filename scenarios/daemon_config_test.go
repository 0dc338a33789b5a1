//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	"sigs.k8s.io/e2e-framework/pkg/types"

	"github.com/multus-thick/multus-thick/scenarios/internal/e2eutil"
)

// delegateTimeout is what the scenarios below set in daemon-config.json;
// short, so the hang scenario is quick, and long enough for a macvlan ADD
// on a loaded machine.
const delegateTimeout = 10 * time.Second

// TestDaemonConfigured runs the scenarios that need daemon-config.json
// changed (namespaceIsolation with a global namespace, and a short
// delegateTimeout) under one change and one restore, two daemon rollouts
// in all. They are disruptive: every daemon pod restarts twice.
func TestDaemonConfigured(t *testing.T) {
	run := "dry"
	if lab != nil { // nil in dry-run mode (--dry-run, go test -list)
		run = lab.S.RunID
	}
	globalNS, otherNS := "mt-"+run+"-global", "mt-"+run+"-other"
	isolation := namespaceIsolation(globalNS, otherNS)
	hostile := hostileTenant(otherNS)
	hang := delegateHang()
	if lab == nil || !selected(testenv.EnvConf(), isolation, hostile, hang) {
		testenv.Test(t, isolation, hostile, hang) // reports the skips
		return
	}
	// Only the keys of the selected features are set: namespaceIsolation
	// and globalNamespaces are upstream keys, delegateTimeout is ours, and
	// the upstream profile must not hand another daemon a key it lacks.
	keys := map[string]any{}
	if selected(testenv.EnvConf(), isolation) {
		keys["namespaceIsolation"] = true
		keys["globalNamespaces"] = globalNS
	}
	if selected(testenv.EnvConf(), hang) {
		keys["delegateTimeout"] = delegateTimeout.String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*rolloutTimeout)
	defer cancel()
	restore, err := lab.PatchDaemonConfig(ctx, keys, rolloutTimeout)
	if err != nil {
		t.Fatalf("patch daemon config: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*rolloutTimeout)
		defer cancel()
		if err := restore(ctx); err != nil {
			t.Errorf("restore daemon config: %v", err)
		}
	})
	testenv.Test(t, isolation, hostile, hang)
}

// namespaceIsolation: with namespaceIsolation on, a pod may use NADs of
// its own namespace and of the global namespaces; a NAD in any other
// namespace is refused with a Warning that says why.
func namespaceIsolation(globalNS, otherNS string) types.Feature {
	var refused, global, own *corev1.Pod
	return features.New("namespace-isolation").
		WithLabel("area", "config").
		WithLabel("profile", "upstream").
		WithLabel("disruptive", "true").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			for _, ns := range []string{globalNS, otherNS} {
				if err := lab.Res.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
					t.Fatalf("create namespace %s: %v", ns, err)
				}
				nad, err := lab.LoadNAD("nad/macvlan-hostlocal-low.yaml", ns)
				if err != nil {
					t.Fatal(err)
				}
				if err := lab.Res.Create(ctx, nad); err != nil {
					t.Fatalf("create NAD in %s: %v", ns, err)
				}
			}
			createNAD(ctx, t, "nad/macvlan-hostlocal-low.yaml")
			refused = createPod(ctx, t, "other-ns", workers[0], otherNS+"/macvlan-low")
			global = createPod(ctx, t, "global-ns", workers[0], globalNS+"/macvlan-low")
			own = createPod(ctx, t, "own-ns", workers[0], "macvlan-low")
			return ctx
		}).
		Assess("a NAD in another namespace is refused with a Warning naming it", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			// Upstream's message names the target namespace, not the NAD;
			// the check asks for no more than that.
			ev, err := lab.WaitEvent(ctx, refused, eventTimeout, e2eutil.IsWarningWith("namespace isolation", otherNS))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("event %s: %s", ev.Reason, ev.Message)
			if p := getPod(ctx, t, refused); p.Status.Phase != corev1.PodPending {
				t.Errorf("refused pod phase %s, want Pending", p.Status.Phase)
			}
			return ctx
		}).
		Assess("a NAD in a global namespace is accepted", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			p := readyPod(ctx, t, global)
			checkAttachments(ctx, t, p, []e2eutil.Want{
				clusterWant(nodeFlannel(ctx, t, workers[0])),
				{Interface: "net1", Network: globalNS + "/macvlan-low", InPrefix: []netip.Prefix{macvlanNet}},
			})
			return ctx
		}).
		Assess("a NAD in the pod's own namespace is accepted", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			p := readyPod(ctx, t, own)
			checkAttachments(ctx, t, p, []e2eutil.Want{
				clusterWant(nodeFlannel(ctx, t, workers[0])),
				{Interface: "net1", Network: namespace(ctx) + "/macvlan-low", InPrefix: []netip.Prefix{macvlanNet}},
			})
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			if lab.S.Keep {
				return ctx
			}
			for _, ns := range []string{globalNS, otherNS} {
				if err := lab.Res.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
					t.Errorf("delete namespace %s: %v", ns, err)
				}
			}
			return ctx
		}).
		Feature()
}

// delegateHang: a delegate that never answers ADD is cut off at the
// daemon's delegateTimeout; the ADD fails with an event naming the
// network, and the rollback (DEL of every attachment, the hung one
// included) leaves nothing behind, the hung process included.
func delegateHang() types.Feature {
	var pod *corev1.Pod
	return features.New("delegate-hang").
		WithLabel("area", "fault").
		WithLabel("profile", "extended").
		WithLabel("disruptive", "true").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			// Both features of TestDaemonConfigured share the test's
			// namespace, and namespace-isolation made macvlan-low already.
			ensureNAD(ctx, t, "nad/macvlan-hostlocal-low.yaml")
			createNAD(ctx, t, "nad/cni-fault-add-hang.yaml")
			pod = createPod(ctx, t, "hangs", workers[0], "macvlan-low,fault-hang")
			return ctx
		}).
		Assess("ADD fails with a Warning naming the network and the deadline", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			network := namespace(ctx) + "/fault-hang"
			ev, err := lab.WaitEvent(ctx, pod, eventTimeout+delegateTimeout, func(e corev1.Event) bool {
				m := strings.ToLower(e.Message)
				return e2eutil.IsWarningWith(network)(e) &&
					(strings.Contains(m, "deadline") || strings.Contains(m, "timeout") || strings.Contains(m, "timed out"))
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("event %s: %s", ev.Reason, ev.Message)
			return ctx
		}).
		Assess("the hung delegate was cut off at the deadline and rolled back", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			// The deadline covers the whole delegate (macvlan, then
			// cni-fault), so cni-fault itself runs a little less than
			// delegateTimeout before it is killed and DEL rolls back.
			lo, hi := delegateTimeout*8/10, delegateTimeout+30*time.Second
			var cut time.Duration
			err := e2eutil.Until(ctx, nodeStateWait, func(ctx context.Context) (string, error) {
				recs, err := faultRecords(ctx, workers[0], pod)
				if err != nil {
					return "", err
				}
				first := map[string]faultRecord{}
				for _, r := range recs {
					if r.Command == "ADD" {
						if _, ok := first[r.ContainerID]; !ok {
							first[r.ContainerID] = r
						}
						continue
					}
					add, ok := first[r.ContainerID]
					if r.Command != "DEL" || !ok {
						continue
					}
					cut = r.Time.Sub(add.Time)
					return nodeLeftovers(ctx, workers[0], []string{r.ContainerID}, "mt-macvlan-low", "mt-fault-hang", clusterNetwork)
				}
				return "no rolled-back attempt recorded yet", nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// The deadline is the feature: the rollback must come neither
			// before it nor long after it.
			if cut < lo || cut > hi {
				t.Errorf("rollback DEL came %s after the hung ADD started, want %s..%s (delegateTimeout %s)", cut, lo, hi, delegateTimeout)
			}
			t.Logf("hung ADD cut off and rolled back after %s", cut.Round(10*time.Millisecond))
			return ctx
		}).
		Assess("after the pod is deleted, no cni-fault process and no state is left", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			deletePod(ctx, t, pod)
			err := e2eutil.Until(ctx, delegateTimeout+nodeStateWait, func(ctx context.Context) (string, error) {
				procs, err := lab.Nodes.Processes(ctx, workers[0], "cni-fault")
				if err != nil || len(procs) > 0 {
					return fmt.Sprintf("cni-fault still running as %v", procs), err
				}
				recs, err := faultRecords(ctx, workers[0], pod)
				if err != nil {
					return "", err
				}
				if msg, err := nodeLeftovers(ctx, workers[0], sandboxesOf(recs, "ADD"), "mt-macvlan-low", "mt-fault-hang", clusterNetwork); msg != "" || err != nil {
					return msg, err
				}
				return vethBalance(ctx, workers[0])
			})
			if err != nil {
				t.Fatal(err)
			}
			return ctx
		}).
		Feature()
}

// selected reports whether the suite's --feature/--skip-features and
// --labels/--skip-labels select any of fs, so a disruptive setup is not
// done for features that will be skipped (the framework's own check runs
// only inside Test).
func selected(cfg *envconf.Config, fs ...types.Feature) bool {
	for _, f := range fs {
		if re := cfg.FeatureRegex(); re != nil && !re.MatchString(f.Name()) {
			continue
		}
		if re := cfg.SkipFeatureRegex(); re != nil && re.MatchString(f.Name()) {
			continue
		}
		ok := true
		for k, vals := range cfg.Labels() {
			match := false
			for _, v := range vals {
				match = match || f.Labels().Contains(k, v)
			}
			ok = ok && match
		}
		for k, vals := range cfg.SkipLabels() {
			for _, v := range vals {
				ok = ok && !f.Labels().Contains(k, v)
			}
		}
		if ok {
			return true
		}
	}
	return false
}
