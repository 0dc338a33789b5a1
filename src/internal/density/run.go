package density

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/yaml"

	"github.com/multus-thick/multus-thick/fixtures"
	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/api/netstatus"
)

// Config is a run: the options plus where things are in the lab.
type Config struct {
	Options
	Image           string // the test pod image, preloaded in the nodes
	DaemonNamespace string
	DaemonSelector  string // label selector of the Multus daemon pods
	DaemonContainer string
	NADFixture      string // fixtures path of the macvlan NAD
	Commit          string
}

// Env is what a run talks to.
type Env struct {
	Core    kubernetes.Interface
	Dynamic dynamic.Interface
	Exec    Exec
	Log     *slog.Logger
	Now     func() time.Time
}

const (
	partOfLabel     = "app.kubernetes.io/part-of"
	partOfValue     = "mt-bench-lab"
	phaseLabel      = "mt-bench-lab/phase"
	cleanupTimeout  = 3 * time.Minute
	containerdGrace = 3 * time.Second // containerd reloads the CNI conf dir on an fsnotify event
	maxInFlight     = 20              // concurrent create requests in a burst
)

var nadGVR = schema.GroupVersionResource{Group: "k8s.cni.cncf.io", Version: "v1", Resource: "network-attachment-definitions"}

// run is one benchmark run's shared state.
type run struct {
	cfg     Config
	env     Env
	ns      string
	nad     string
	nodes   []string
	current atomic.Pointer[observer]
	restore func(context.Context) error // non-nil while 00-multus.conf is aside
}

// Run measures every phase of cfg's plan and returns the report; the report
// holds what was measured also when err is not nil. The namespace and the
// CNI conf are cleaned up however it ends.
func Run(ctx context.Context, cfg Config, env Env) (rep Report, err error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	rep = Report{Started: env.Now().UTC(), Commit: cfg.Commit, LoadAvgStart: loadAvg(), Options: cfg.Options}
	ctx, cancel := context.WithTimeout(ctx, cfg.Deadline)
	defer cancel()
	r := &run{cfg: cfg, env: env, ns: fmt.Sprintf("mt-bench-lab-%04x", rand.IntN(1<<16))}

	nodes, err := env.Core.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return rep, fmt.Errorf("list nodes: %w", err)
	}
	for _, n := range nodes.Items {
		r.nodes = append(r.nodes, n.Name)
	}
	slices.Sort(r.nodes)
	rep.Nodes = r.nodes
	// A killed run may have left 00-multus.conf aside or its namespace.
	if err := restoreConf(ctx, env.Exec, r.nodes); err != nil {
		return rep, fmt.Errorf("before the run (is the daemon deployed?): %w", err)
	}
	if err := r.sweepNamespaces(ctx); err != nil {
		return rep, err
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer ccancel()
		err = errors.Join(err, r.cleanup(cctx))
		rep.Finished = env.Now().UTC()
		rep.LoadAvgEnd = loadAvg()
	}()
	if err := r.setup(ctx); err != nil {
		return rep, fmt.Errorf("setup: %w", err)
	}
	for i, ph := range cfg.Plan() {
		res, err := r.phase(ctx, i, ph)
		if err != nil {
			res.Error = err.Error()
		}
		rep.Phases = append(rep.Phases, res)
		if err != nil {
			return rep, fmt.Errorf("phase %s: %w", ph, err)
		}
		env.Log.Info("phase done", "phase", ph.String(), "ready_p50_ms", round(res.Latency.Ready.P50), "ready_p99_ms", round(res.Latency.Ready.P99),
			"sandbox_p50_ms", round(res.Latency.Sandbox.P50), "wall_s", round(res.WallSeconds))
	}
	return rep, nil
}

func (r *run) setup(ctx context.Context) error {
	core := r.env.Core.CoreV1()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.ns, Labels: map[string]string{partOfLabel: partOfValue}}}
	if _, err := core.Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("namespace %s: %w", r.ns, err)
	}
	r.env.Log.Info("namespace created", "namespace", r.ns)
	nad, err := loadNAD(r.cfg.NADFixture, r.ns)
	if err != nil {
		return err
	}
	if _, err := r.env.Dynamic.Resource(nadGVR).Namespace(r.ns).Create(ctx, nad, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("NAD %s: %w", nad.GetName(), err)
	}
	r.nad = nad.GetName()
	// Pods are refused until the namespace's default ServiceAccount exists.
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := core.ServiceAccounts(r.ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		return fmt.Errorf("default ServiceAccount in %s: %w", r.ns, err)
	}
	factory := informers.NewSharedInformerFactoryWithOptions(r.env.Core, 0, informers.WithNamespace(r.ns))
	inf := factory.Core().V1().Pods().Informer()
	see := func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok {
			if o := r.current.Load(); o != nil {
				o.seen(p)
			}
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: see, UpdateFunc: func(_, obj any) { see(obj) }}); err != nil {
		return err
	}
	// The informer lives as long as the run's context.
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return fmt.Errorf("pod watch in %s did not sync: %w", r.ns, ctx.Err())
	}
	return nil
}

// loadNAD reads the NAD fixture and puts it into ns.
func loadNAD(path, ns string) (*unstructured.Unstructured, error) {
	data, err := fixtures.Read(path)
	if err != nil {
		return nil, err
	}
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &obj.Object); err != nil {
		return nil, fmt.Errorf("NAD fixture %s: %w", path, err)
	}
	if obj.GetKind() != "NetworkAttachmentDefinition" || obj.GetName() == "" {
		return nil, fmt.Errorf("NAD fixture %s: not a named NetworkAttachmentDefinition", path)
	}
	obj.SetNamespace(ns)
	return obj, nil
}

// phase creates the phase's pods, waits until all are Ready, reads the
// figures and deletes the pods again.
func (r *run) phase(ctx context.Context, idx int, ph Phase) (res PhaseResult, err error) {
	res = PhaseResult{Phase: ph.String(), Mode: ph.Mode, Pattern: ph.Pattern, Pods: r.cfg.Pods}
	if ph.Mode == ModeFlannel && r.restore == nil {
		restore, err := confAside(ctx, r.env.Exec, r.nodes)
		if err != nil {
			return res, err
		}
		r.restore = restore
		r.env.Log.Info("00-multus.conf moved aside on every node", "aside", asideConf)
		if err := sleepCtx(ctx, containerdGrace); err != nil {
			return res, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.PhaseTimeout)
	defer cancel()
	daemons, err := r.locateDaemons(ctx)
	if err != nil {
		return res, err
	}
	before, err := r.readUsage(ctx, daemons, true)
	if err != nil {
		return res, err
	}
	obs := newObserver(r.env.Now)
	r.current.Store(obs)
	defer r.current.Store(nil)
	sel := phaseLabel + "=" + strconv.Itoa(idx)
	defer func() {
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer dcancel()
		err = errors.Join(err, r.deletePods(dctx, sel))
	}()

	r.env.Log.Info("phase start", "phase", ph.String(), "pods", r.cfg.Pods)
	start := r.env.Now()
	if err := r.createPods(ctx, idx, ph, obs); err != nil {
		return res, err
	}
	if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		return obs.readyCount() >= r.cfg.Pods, nil
	}); err != nil {
		return res, fmt.Errorf("%d of %d pods Ready: %w", obs.readyCount(), r.cfg.Pods, err)
	}
	res.WallSeconds = r.env.Now().Sub(start).Seconds()
	after, err := r.readUsage(ctx, daemons, false)
	if err != nil {
		return res, err
	}
	pods, err := r.env.Core.CoreV1().Pods(r.ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return res, fmt.Errorf("list pods: %w", err)
	}
	res.Nodes = nodeUsage(daemons, before, after, pods.Items)
	res.Latency, err = latencies(pods.Items, obs.snapshot())
	if err != nil {
		return res, err
	}
	return res, checkAttachments(ph.Mode, pods.Items)
}

func (r *run) podFor(idx, i int, ph Phase) *corev1.Pod {
	grace := int64(1)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("p%d-%03d", idx, i), Namespace: r.ns,
			Labels: map[string]string{partOfLabel: partOfValue, phaseLabel: strconv.Itoa(idx)},
		},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name: "sleep", Image: r.cfg.Image, ImagePullPolicy: corev1.PullNever,
				Command: []string{"/bin/busybox", "sleep", "86400"},
			}},
		},
	}
	if ph.Mode == ModeAttach {
		p.Annotations = map[string]string{api.NetworksAnnotation: r.nad}
	}
	return p
}

// createPods sends the creates on the pattern's schedule, at most
// maxInFlight at once; the first error stops the schedule.
func (r *run) createPods(ctx context.Context, idx int, ph Phase, obs *observer) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	start := r.env.Now()
	for i, off := range createOffsets(r.cfg.Pods, ph.Pattern, r.cfg.Rate) {
		if err := sleepCtx(ctx, time.Until(start.Add(off))); err != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		pod := r.podFor(idx, i, ph)
		wg.Go(func() {
			defer func() { <-sem }()
			obs.created(pod.Name, r.env.Now())
			if _, err := r.env.Core.CoreV1().Pods(r.ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				cancel(fmt.Errorf("create pod %s: %w", pod.Name, err))
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// deletePods deletes the pods matching sel and waits until they are gone,
// so the next phase starts with the nodes' addresses released.
func (r *run) deletePods(ctx context.Context, sel string) error {
	pods := r.env.Core.CoreV1().Pods(r.ns)
	if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: sel}); err != nil {
		return fmt.Errorf("delete pods %s: %w", sel, err)
	}
	return wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		l, err := pods.List(ctx, metav1.ListOptions{LabelSelector: sel})
		return err == nil && len(l.Items) == 0, nil
	})
}

// cleanup deletes every pod before restoring the conf (a pod added by
// flannel alone is then deleted by flannel alone), then the namespace.
func (r *run) cleanup(ctx context.Context) error {
	var errs []error
	if r.restore != nil {
		errs = append(errs, r.deletePods(ctx, partOfLabel+"="+partOfValue))
		if err := r.restore(ctx); err != nil {
			errs = append(errs, err)
		} else {
			r.env.Log.Info("00-multus.conf restored on every node")
			errs = append(errs, r.probeMultus(ctx))
		}
		r.restore = nil
	}
	errs = append(errs, r.deleteNamespace(ctx, r.ns))
	return errors.Join(errs...)
}

// probeMultus proves Multus is on the pod path again after the restore:
// one pod must come up with the network-status Multus writes (a runtime
// that missed the restore would keep using flannel alone).
func (r *run) probeMultus(ctx context.Context) (err error) {
	pod := r.podFor(0, 0, Phase{Mode: ModePlain})
	pod.Name, pod.Labels[phaseLabel] = "probe", "probe"
	pods := r.env.Core.CoreV1().Pods(r.ns)
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("probe pod after the restore: %w", err)
	}
	defer func() { err = errors.Join(err, r.deletePods(ctx, phaseLabel+"=probe")) }()
	var got *corev1.Pod
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		got = p
		return conditionTrue(p, corev1.PodReady), nil
	})
	if err != nil {
		return fmt.Errorf("probe pod after the restore not Ready: %w", err)
	}
	if err := checkAttachments(ModePlain, []corev1.Pod{*got}); err != nil {
		return fmt.Errorf("after the restore, Multus is not on the pod path (the runtime did not reload 00-multus.conf?): %w", err)
	}
	r.env.Log.Info("probe pod after the restore went through Multus")
	return nil
}

func (r *run) deleteNamespace(ctx context.Context, name string) error {
	nss := r.env.Core.CoreV1().Namespaces()
	if err := nss.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	if err := wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		_, err := nss.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	}); err != nil {
		return fmt.Errorf("namespace %s still there: %w", name, err)
	}
	return nil
}

// sweepNamespaces deletes what an earlier, killed run left.
func (r *run) sweepNamespaces(ctx context.Context) error {
	l, err := r.env.Core.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: partOfLabel + "=" + partOfValue})
	if err != nil {
		return fmt.Errorf("list namespaces: %w", err)
	}
	for _, ns := range l.Items {
		r.env.Log.Info("removing the namespace of an earlier run", "namespace", ns.Name)
		if err := r.deleteNamespace(ctx, ns.Name); err != nil {
			return err
		}
	}
	return nil
}

// daemon is one node's Multus daemon container and its cgroup.
type daemon struct {
	node, pod, containerID string
	cg                     cgroupRef
}

func (r *run) locateDaemons(ctx context.Context) ([]daemon, error) {
	l, err := r.env.Core.CoreV1().Pods(r.cfg.DaemonNamespace).List(ctx, metav1.ListOptions{LabelSelector: r.cfg.DaemonSelector})
	if err != nil {
		return nil, fmt.Errorf("list daemon pods: %w", err)
	}
	var out []daemon
	for _, p := range l.Items {
		id := ""
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Name == r.cfg.DaemonContainer && cs.State.Running != nil {
				_, id, _ = strings.Cut(cs.ContainerID, "://")
			}
		}
		if id == "" || p.Spec.NodeName == "" {
			return nil, fmt.Errorf("daemon pod %s/%s: container %q not running", p.Namespace, p.Name, r.cfg.DaemonContainer)
		}
		out2, err := r.env.Exec(ctx, p.Spec.NodeName, locateScript(id))
		if err != nil {
			return nil, fmt.Errorf("daemon pod %s: cgroup: %w", p.Name, err)
		}
		cg, err := parseProcCgroup(out2)
		if err != nil {
			return nil, fmt.Errorf("daemon pod %s: %w", p.Name, err)
		}
		out = append(out, daemon{node: p.Spec.NodeName, pod: p.Name, containerID: id, cg: cg})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no daemon pods in %s matching %q", r.cfg.DaemonNamespace, r.cfg.DaemonSelector)
	}
	slices.SortFunc(out, func(a, b daemon) int { return strings.Compare(a.node, b.node) })
	return out, nil
}

// readUsage reads every daemon's cgroup; with reset, it first starts a new
// peak-memory window.
func (r *run) readUsage(ctx context.Context, ds []daemon, reset bool) ([]usage, error) {
	out := make([]usage, len(ds))
	for i, d := range ds {
		script := d.cg.usageScript()
		if reset {
			script = d.cg.resetPeakScript() + " && " + script
		}
		data, err := r.env.Exec(ctx, d.node, script)
		if err != nil {
			return nil, fmt.Errorf("daemon %s on %s: %w", d.pod, d.node, err)
		}
		if out[i], err = parseUsage(data); err != nil {
			return nil, fmt.Errorf("daemon %s on %s: %w", d.pod, d.node, err)
		}
	}
	return out, nil
}

// nodeUsage pairs the readings with how many of the phase's pods each node ran.
func nodeUsage(ds []daemon, before, after []usage, pods []corev1.Pod) []NodeUsage {
	perNode := map[string]int{}
	for _, p := range pods {
		perNode[p.Spec.NodeName]++
	}
	out := make([]NodeUsage, len(ds))
	for i, d := range ds {
		out[i] = NodeUsage{
			Node: d.node, Pods: perNode[d.node],
			DaemonCPUSeconds: float64(after[i].cpuNS-before[i].cpuNS) / 1e9,
			DaemonPeakMiB:    float64(after[i].peakBytes) / (1 << 20),
		}
	}
	return out
}

// checkAttachments proves the phase measured what it says: network-status
// with the cluster network and net1 (attach), the cluster network only
// (plain), or no network-status at all (flannel alone: Multus not called).
func checkAttachments(mode Mode, pods []corev1.Pod) error {
	want := map[Mode]int{ModeAttach: 2, ModePlain: 1, ModeFlannel: 0}[mode]
	var bad []string
	for _, p := range pods {
		got := 0
		if s, ok := p.Annotations[api.NetworkStatusAnnotation]; ok {
			entries, err := netstatus.Parse(s)
			if err != nil {
				bad = append(bad, p.Name+": "+err.Error())
				continue
			}
			got = len(entries)
		}
		if got != want {
			bad = append(bad, fmt.Sprintf("%s: %d network-status entries", p.Name, got))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("mode %s wants %d network-status entries per pod; %d pods differ: %v", mode, want, len(bad), bad[:min(len(bad), 3)])
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	return strings.Join(f[:min(3, len(f))], " ")
}

func round(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
