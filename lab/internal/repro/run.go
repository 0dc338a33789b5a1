package repro

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"

	"github.com/multus-thick/multus-thick/lab/internal/kube"
	"github.com/multus-thick/multus-thick/lab/internal/step"
	"github.com/multus-thick/multus-thick/src/api"
)

// The daemon as deployments/ installs it.
const (
	daemonNamespace        = "kube-system"
	daemonSelector         = "app=multus"
	daemonConfigMap        = "multus-daemon-config"
	daemonConfigKey        = "daemon-config.json"
	defaultDelegateTimeout = 2 * time.Minute
	// DefaultImage is the lab's busybox test pod image.
	DefaultImage = "localhost/mt-testpod:lab"
	// MaxCount bounds COUNT: each round is a pod created, waited for and deleted.
	MaxCount = 50
	// runLabel marks the namespaces repro creates.
	runLabel = "multus-thick.repro/nad"
)

// Options are the make variables of repro-delegate.
type Options struct {
	Plugin   string // PLUGIN: a CNI plugin binary; "" uses the node's
	NAD      string // NAD: a NetworkAttachmentDefinition file
	Pod      string // POD: a pod file; "" uses DefaultPod
	Node     string // NODE: a worker; "" is the first worker
	Count    int    // COUNT: pods to create one after another (default 1)
	Keep     bool   // KEEP: leave namespace, pods and node files in place
	Recorder string // the mt-repro-rec binary (make build)
	OutDir   string // evidence folders go under it (_artifacts/repro)
	Image    string // the default pod's image
	Cluster  string // the kind cluster's name, for repro.json
	// Timeout bounds the wait for each pod; 0 is the daemon's delegateTimeout + 1m, so a
	// hanging plugin is cut off by the daemon, not by us.
	Timeout time.Duration
}

// Env is what a repro needs from outside.
type Env struct {
	Kube     *kube.Client
	Nodes    Nodes
	Progress *step.Reporter
	Out      io.Writer // the summary
	Now      func() time.Time
	Suffix   func() string // a short random suffix for names
}

// Manifest is repro.json: what ran where.
type Manifest struct {
	Name            string    `json:"name"`
	Namespace       string    `json:"namespace"`
	Node            string    `json:"node"`
	Cluster         string    `json:"cluster,omitempty"`
	Types           []string  `json:"types"`
	PluginType      string    `json:"pluginType,omitempty"`
	PluginFile      string    `json:"pluginFile,omitempty"` // relative to the folder
	PluginSHA256    string    `json:"pluginSHA256,omitempty"`
	DelegateTimeout string    `json:"delegateTimeout"`
	Count           int       `json:"count"`
	Keep            bool      `json:"keep"`
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
}

type run struct {
	opts Options
	env  Env

	nad             *NAD
	nadFile         []byte
	pod             *corev1.Pod
	node            NodeInfo
	nodes           []string
	pluginType      string
	pluginData      []byte
	pluginSum       string
	installOn       []string // nodes that get PLUGIN
	delegateTimeout time.Duration
	namespace       string
	dir             string
	start           time.Time

	// What exists on the lab, for cleanup.
	recorderOn []string
	pluginOn   []string
	nsCreated  bool
	before     State
	outcomes   []PodOutcome
	// cni-fault's "times" counters of the run's container IDs (on the run's node): the
	// pods are gone, so are their counts.
	faultState []string
}

// Delegate runs the repro and returns its summary. Bad input fails before anything is
// created on the lab; after that, the evidence is collected and (unless Keep) everything
// created is deleted whatever happened in between.
func Delegate(ctx context.Context, env Env, opts Options) (*Summary, error) {
	r := &run{opts: opts, env: env, start: env.Now()}
	if r.opts.Count == 0 {
		r.opts.Count = 1
	}
	if r.opts.Image == "" {
		r.opts.Image = DefaultImage
	}
	if err := env.Progress.Do(ctx, "check PLUGIN, NAD, POD and NODE", r.check); err != nil {
		return nil, err
	}
	env.Progress.Note("node %s, namespace %s, NAD %s (types %v), daemon delegateTimeout %s", r.node.Name, r.namespace, r.nad.Name, r.nad.Types, r.delegateTimeout)
	runErr := r.setupAndRun(ctx)
	// Evidence and cleanup must happen even when the run was interrupted.
	after, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute+r.delegateTimeout)
	defer cancel()
	var sum *Summary
	cerr := env.Progress.Do(after, "collect the evidence", func(ctx context.Context, log io.Writer) error {
		var err error
		sum, err = r.collect(ctx, log, runErr)
		return err
	})
	var clErr error
	if r.opts.Keep {
		env.Progress.Note("KEEP=1: kept namespace %s and the recorder on the nodes; remove them with: kubectl delete namespace %s", r.namespace, r.namespace)
	} else {
		clErr = env.Progress.Do(after, "delete what the repro created", r.cleanup)
	}
	if sum != nil {
		sum.Render(env.Out)
	}
	return sum, errors.Join(runErr, cerr, clErr)
}

// check validates every input against the cluster without changing anything.
func (r *run) check(ctx context.Context, log io.Writer) error {
	o := r.opts
	if o.NAD == "" {
		return errors.New("NAD=<file> is required")
	}
	if o.Count < 1 || o.Count > MaxCount {
		return fmt.Errorf("COUNT=%d: want 1..%d", o.Count, MaxCount)
	}
	var err error
	if r.nadFile, err = os.ReadFile(o.NAD); err != nil {
		return fmt.Errorf("NAD: %w", err)
	}
	if r.nad, err = ParseNAD(o.NAD, r.nadFile); err != nil {
		return err
	}
	if o.Pod != "" {
		data, err := os.ReadFile(o.Pod)
		if err != nil {
			return fmt.Errorf("POD: %w", err)
		}
		if r.pod, err = ParsePod(o.Pod, data, r.nad.Name); err != nil {
			return err
		}
	} else {
		r.pod = DefaultPod(o.Image, r.nad.Name)
	}
	if err := r.checkNodes(ctx); err != nil {
		return err
	}
	if interp, err := CheckPluginFile(o.Recorder, r.node.Arch); err != nil || interp != "" {
		return fmt.Errorf("the recorder %s (make build) is not a static binary for %s: %v", o.Recorder, r.node.Arch, err)
	}
	if err := r.checkPlugins(ctx, log); err != nil {
		return err
	}
	if r.delegateTimeout, err = r.daemonDelegateTimeout(ctx); err != nil {
		return err
	}
	suffix := r.env.Suffix()
	r.namespace = namespaceName(r.nad.Name, suffix)
	r.dir = filepath.Join(o.OutDir, r.nad.Name+"-"+r.start.UTC().Format("20060102T150405Z"))
	return nil
}

func (r *run) checkNodes(ctx context.Context) error {
	list, err := r.env.Kube.Core.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	var infos []NodeInfo
	for _, n := range list.Items {
		_, cp := n.Labels["node-role.kubernetes.io/control-plane"]
		infos = append(infos, NodeInfo{Name: n.Name, ControlPlane: cp, Arch: n.Status.NodeInfo.Architecture})
		r.nodes = append(r.nodes, n.Name)
	}
	r.node, err = PickNode(infos, r.opts.Node)
	return err
}

// checkPlugins checks PLUGIN and that every other type of the NAD is on the node.
func (r *run) checkPlugins(ctx context.Context, log io.Writer) error {
	if p := r.opts.Plugin; p != "" {
		typ, err := r.nad.PluginType(p)
		if err != nil {
			return err
		}
		if strings.HasPrefix(typ, recorderPrefix) {
			return fmt.Errorf("PLUGIN type %q: the %s prefix is the recorder's", typ, recorderPrefix)
		}
		interp, err := CheckPluginFile(p, r.node.Arch)
		if err != nil {
			return err
		}
		if interp != "" {
			ok, err := executableOnNode(ctx, r.env.Nodes, r.node.Name, interp)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("PLUGIN %s needs %s, which node %s does not have: build it static (CGO_ENABLED=0)", p, interp, r.node.Name)
			}
		}
		if r.pluginData, err = os.ReadFile(p); err != nil {
			return fmt.Errorf("PLUGIN: %w", err)
		}
		if r.pluginSum, err = fileSHA256(p); err != nil {
			return fmt.Errorf("PLUGIN: %w", err)
		}
		r.pluginType = typ
		for _, n := range r.nodes {
			have, installed, err := pluginOnNode(ctx, r.env.Nodes, n, typ)
			if err != nil {
				return err
			}
			switch {
			case have == r.pluginSum:
				fmt.Fprintf(log, "node %s already has this %s\n", n, typ)
			case have == "" || installed == have:
				r.installOn = append(r.installOn, n)
			default:
				return fmt.Errorf("PLUGIN %s: node %s already has a different %s/%s that repro did not install (one the lab ships?): name your file and the NAD's type differently, or omit PLUGIN to use the node's", p, n, cniBinDir, typ)
			}
		}
	}
	for _, t := range r.nad.Distinct() {
		if strings.HasPrefix(t, recorderPrefix) {
			return fmt.Errorf("NAD type %q: the %s prefix is the recorder's", t, recorderPrefix)
		}
		if t == r.pluginType {
			continue
		}
		ok, err := executableOnNode(ctx, r.env.Nodes, r.node.Name, cniBinDir+"/"+t)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("NAD type %q is not in %s on node %s: bring it with PLUGIN=<binary>", t, cniBinDir, r.node.Name)
		}
	}
	return nil
}

// daemonDelegateTimeout reads the daemon's delegateTimeout from its ConfigMap.
func (r *run) daemonDelegateTimeout(ctx context.Context) (time.Duration, error) {
	cm, err := r.env.Kube.Core.CoreV1().ConfigMaps(daemonNamespace).Get(ctx, daemonConfigMap, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("the daemon's config %s/%s: %w", daemonNamespace, daemonConfigMap, err)
	}
	var conf struct {
		DelegateTimeout string `json:"delegateTimeout"`
	}
	if err := json.Unmarshal([]byte(cm.Data[daemonConfigKey]), &conf); err != nil {
		return 0, fmt.Errorf("the daemon's %s: %w", daemonConfigKey, err)
	}
	if conf.DelegateTimeout == "" {
		return defaultDelegateTimeout, nil
	}
	d, err := time.ParseDuration(conf.DelegateTimeout)
	if err != nil {
		return 0, fmt.Errorf("the daemon's delegateTimeout %q: %w", conf.DelegateTimeout, err)
	}
	return d, nil
}

func namespaceName(nad, suffix string) string {
	const prefix = "mt-repro-"
	room := 63 - len(prefix) - 1 - len(suffix)
	if len(nad) > room {
		nad = strings.TrimRight(nad[:room], "-")
	}
	return prefix + nad + "-" + suffix
}

func (r *run) setupAndRun(ctx context.Context) error {
	p := r.env.Progress
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return fmt.Errorf("evidence folder: %w", err)
	}
	if err := p.Do(ctx, fmt.Sprintf("install the recorder%s on %d nodes", pluralIf(r.pluginType != "", " and PLUGIN"), len(r.nodes)), r.install); err != nil {
		return err
	}
	err := p.Do(ctx, "namespace "+r.namespace+" and NAD "+r.nad.Name, func(ctx context.Context, log io.Writer) error {
		var err error
		if r.before, err = Snapshot(ctx, r.env.Nodes, r.node.Name); err != nil {
			return err
		}
		return r.createNamespace(ctx, log)
	})
	if err != nil {
		return err
	}
	for i := 1; i <= r.opts.Count; i++ {
		name := r.pod.Name
		if r.opts.Count > 1 {
			name = fmt.Sprintf("%s-%d", r.pod.Name, i)
		}
		err := p.Do(ctx, fmt.Sprintf("pod %s (%d/%d)", name, i, r.opts.Count), func(ctx context.Context, log io.Writer) error {
			return r.onePod(ctx, log, name)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func pluralIf(cond bool, s string) string {
	if cond {
		return s
	}
	return ""
}

// install puts mt-repro-<type> in front of every NAD type on every node, and PLUGIN where
// it is missing.
func (r *run) install(ctx context.Context, log io.Writer) error {
	rec, err := os.ReadFile(r.opts.Recorder)
	if err != nil {
		return fmt.Errorf("recorder: %w", err)
	}
	for _, n := range r.nodes {
		if slices.Contains(r.installOn, n) {
			if err := installFile(ctx, r.env.Nodes, n, cniBinDir, r.pluginType, r.pluginData); err != nil {
				return err
			}
			r.pluginOn = append(r.pluginOn, n)
			if _, err := sh(ctx, r.env.Nodes, n, nil, `mkdir -p "$1" && echo "$3" > "$1/$2"`, installedDir, r.pluginType, r.pluginSum); err != nil {
				return err
			}
			fmt.Fprintf(log, "node %s: %s/%s (sha256 %s)\n", n, cniBinDir, r.pluginType, r.pluginSum)
		}
		r.recorderOn = append(r.recorderOn, n)
		for _, t := range r.nad.Distinct() {
			if err := installFile(ctx, r.env.Nodes, n, cniBinDir, recorderPrefix+t, rec); err != nil {
				return err
			}
			fmt.Fprintf(log, "node %s: %s/%s%s\n", n, cniBinDir, recorderPrefix, t)
		}
	}
	return nil
}

func (r *run) createNamespace(ctx context.Context, log io.Writer) error {
	core := r.env.Kube.Core.CoreV1()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.namespace, Labels: map[string]string{runLabel: r.nad.Name}}}
	if _, err := core.Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create namespace %s: %w", r.namespace, err)
	}
	r.nsCreated = true
	// Pods need the default ServiceAccount, which the controller-manager adds shortly.
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := wait.PollUntilContextCancel(wctx, time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := core.ServiceAccounts(r.namespace).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("namespace %s has no default ServiceAccount: %w", r.namespace, err)
	}
	config, err := r.nad.Wrapped(func(t string) string { return recorderPrefix + t })
	if err != nil {
		return fmt.Errorf("wrap the NAD's types: %w", err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "nad-applied.json"), config, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.dir, "nad.yaml"), r.nadFile, 0o644); err != nil {
		return err
	}
	return r.env.Kube.Apply(ctx, []*unstructured.Unstructured{r.nad.Object(r.namespace, config)}, kube.ApplyOptions{Log: log})
}

// onePod creates one pod, waits for it to be Ready or to fail, saves its evidence and,
// unless Keep, deletes it and waits until it is gone (so its DEL calls are recorded).
func (r *run) onePod(ctx context.Context, log io.Writer, name string) error {
	core := r.env.Kube.Core.CoreV1().Pods(r.namespace)
	pod := r.pod.DeepCopy()
	pod.Name, pod.Namespace, pod.Spec.NodeName = name, r.namespace, r.node.Name
	pod.ResourceVersion, pod.UID = "", ""
	pod.Status = corev1.PodStatus{}
	if _, err := core.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create pod %s: %w", name, err)
	}
	timeout := r.opts.Timeout
	if timeout == 0 {
		timeout = r.delegateTimeout + time.Minute
	}
	out := r.waitPod(ctx, name, timeout)
	r.outcomes = append(r.outcomes, out)
	fmt.Fprintf(log, "pod %s: %s %s\n", name, out.Outcome, out.Message)
	r.env.Progress.Note("pod %s: %s", name, out.Outcome)
	if err := r.savePod(ctx, name); err != nil {
		fmt.Fprintf(log, "save pod %s: %v\n", name, err)
	}
	if r.opts.Keep {
		return nil
	}
	one := int64(1) // not 0: the API keeps the pod until the kubelet has torn it down
	if err := core.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &one}); err != nil {
		return fmt.Errorf("delete pod %s: %w", name, err)
	}
	gctx, cancel := context.WithTimeout(ctx, time.Minute+r.delegateTimeout)
	defer cancel()
	err := wait.PollUntilContextCancel(gctx, time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := core.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		return fmt.Errorf("pod %s not gone: %w", name, err)
	}
	return nil
}

// waitPod polls until the pod is Ready, a Warning event about it appears, it fails, or
// timeout passes.
func (r *run) waitPod(ctx context.Context, name string, timeout time.Duration) PodOutcome {
	out := PodOutcome{Name: name, Outcome: OutcomeTimeout}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	_ = wait.PollUntilContextCancel(wctx, time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := r.env.Kube.Core.CoreV1().Pods(r.namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = string(p.Status.Phase)
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				out.Outcome = OutcomeReady
				return true, nil
			}
		}
		if p.Status.Phase == corev1.PodFailed {
			out.Outcome, out.Message = OutcomeFailed, p.Status.Reason+": "+p.Status.Message
			return true, nil
		}
		evs, err := r.events(ctx, name)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		for _, e := range evs {
			if e.Type == corev1.EventTypeWarning {
				out.Outcome, out.Message = OutcomeFailed, e.Reason+": "+e.Message
				return true, nil
			}
		}
		return false, nil
	})
	if out.Outcome == OutcomeTimeout {
		out.Message = fmt.Sprintf("neither Ready nor failed after %s (last seen: %s)", timeout, last)
	}
	return out
}

func (r *run) events(ctx context.Context, pod string) ([]corev1.Event, error) {
	list, err := r.env.Kube.Core.CoreV1().Events(r.namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=Pod,involvedObject.name=" + pod})
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w", pod, err)
	}
	ev := list.Items
	slices.SortStableFunc(ev, func(a, b corev1.Event) int { return eventTime(a).Compare(eventTime(b)) })
	return ev, nil
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// savePod writes pods/<name>/: the pod with its status, its events and its network-status.
func (r *run) savePod(ctx context.Context, name string) error {
	dir := filepath.Join(r.dir, "pods", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	p, err := r.env.Kube.Core.CoreV1().Pods(r.namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	p.ManagedFields = nil
	y, err := yaml.Marshal(p)
	if err != nil {
		return err
	}
	var errs []error
	errs = append(errs, os.WriteFile(filepath.Join(dir, "pod.yaml"), y, 0o644))
	errs = append(errs, os.WriteFile(filepath.Join(dir, "network-status.json"), []byte(p.Annotations[api.NetworkStatusAnnotation]+"\n"), 0o644))
	evs, err := r.events(ctx, name)
	errs = append(errs, err)
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%s %s %s x%d (%s): %s\n", eventTime(e).UTC().Format(time.RFC3339), e.Type, e.Reason, max(e.Count, 1), e.Source.Component, e.Message)
	}
	errs = append(errs, os.WriteFile(filepath.Join(dir, "events.txt"), []byte(b.String()), 0o644))
	return errors.Join(errs...)
}

// collect waits for the recorder to settle, fetches the calls and logs, and writes the
// summary.
func (r *run) collect(ctx context.Context, log io.Writer, runErr error) (*Summary, error) {
	var errs []error
	settleNote := ""
	if err := r.settle(ctx, log); err != nil {
		// Still collect what there is: a call may still be running (a DEL that hangs).
		settleNote = err.Error()
	}
	callsDir := filepath.Join(r.dir, "calls")
	if err := fetchCalls(ctx, r.env.Nodes, r.node.Name, r.namespace, callsDir); err != nil {
		errs = append(errs, err)
	}
	calls, err := ReadCalls(callsDir)
	errs = append(errs, err)
	ids := ContainerIDs(calls)
	r.faultState = FaultStateFiles(calls)
	needles := append([]string{r.namespace}, ids...)
	errs = append(errs, r.saveDaemonLog(ctx, needles))
	since := r.start.Add(-5 * time.Second).Unix()
	if lines, err := kubeletLines(ctx, r.env.Nodes, r.node.Name, since, needles); err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, os.WriteFile(filepath.Join(r.dir, "kubelet.log"), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	}
	in := SummaryInput{
		Name: r.nad.Name, Namespace: r.namespace, Node: r.node.Name, Dir: r.dir,
		DelegateTimeout: r.delegateTimeout, Pods: r.outcomes, Calls: calls,
	}
	errs = append(errs, writeJSON(filepath.Join(r.dir, "node-before.json"), r.before))
	switch {
	case r.opts.Keep:
		in.LeakCheckSkipped = "KEEP=1 keeps the pods"
	case runErr != nil:
		in.LeakCheckSkipped = "the run stopped before its pods were deleted: " + runErr.Error()
	default:
		after, err := r.settledState(ctx, ids)
		errs = append(errs, err, writeJSON(filepath.Join(r.dir, "node-after.json"), after))
		in.Leftovers = Leftovers(r.before, after, ids)
		errs = append(errs, os.WriteFile(filepath.Join(r.dir, "leftovers.txt"), []byte(strings.Join(in.Leftovers, "\n")+"\n"), 0o644))
	}
	sum := Summarize(in)
	if settleNote != "" {
		sum.Notes = append(sum.Notes, settleNote+": calls still running were collected as they were")
	}
	var text strings.Builder
	sum.Render(&text)
	errs = append(errs, os.WriteFile(filepath.Join(r.dir, "summary.txt"), []byte(text.String()), 0o644))
	errs = append(errs, writeJSON(filepath.Join(r.dir, "summary.json"), sum))
	errs = append(errs, r.saveManifest())
	fmt.Fprintf(log, "%d calls, container IDs %v\n", len(calls), ids)
	return &sum, errors.Join(errs...)
}

// settle waits until no recorder runs on the node and the number of recorded calls stays
// the same for two looks, bounded by the delegate deadline (a hung call ends by then).
func (r *run) settle(ctx context.Context, log io.Writer) error {
	sctx, cancel := context.WithTimeout(ctx, r.delegateTimeout+15*time.Second)
	defer cancel()
	prev := -1
	err := wait.PollUntilContextCancel(sctx, 2*time.Second, true, func(ctx context.Context) (bool, error) {
		total, pending, running, err := callsProgress(ctx, r.env.Nodes, r.node.Name, r.namespace)
		if err != nil {
			return false, err
		}
		fmt.Fprintf(log, "calls %d, without exit %d, recorders running %d\n", total, pending, running)
		done := running == 0 && total == prev
		prev = total
		return done, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the recorded calls to settle: %w", err)
	}
	return nil
}

// settledState reads the node's state until nothing is left over, for at most 20s: the
// runtime removes a sandbox's netns and veth a moment after the pod is gone, and that lag
// is not a leak; what is still there after the bound is.
func (r *run) settledState(ctx context.Context, ids []string) (State, error) {
	var st State
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var last error
	_ = wait.PollUntilContextCancel(sctx, 2*time.Second, true, func(ctx context.Context) (bool, error) {
		s, err := Snapshot(ctx, r.env.Nodes, r.node.Name)
		if err != nil {
			last = err
			return false, nil
		}
		st, last = s, nil
		return len(Leftovers(r.before, st, ids)) == 0, nil
	})
	return st, last
}

func (r *run) saveDaemonLog(ctx context.Context, needles []string) error {
	pods, err := r.env.Kube.Core.CoreV1().Pods(daemonNamespace).List(ctx, metav1.ListOptions{
		LabelSelector: daemonSelector, FieldSelector: "spec.nodeName=" + r.node.Name,
	})
	if err != nil {
		return fmt.Errorf("daemon pod on %s: %w", r.node.Name, err)
	}
	if len(pods.Items) == 0 {
		return fmt.Errorf("no daemon pod (%s in %s) on %s", daemonSelector, daemonNamespace, r.node.Name)
	}
	p := pods.Items[0]
	since := metav1.NewTime(r.start.Add(-5 * time.Second))
	raw, err := r.env.Kube.Core.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: p.Spec.Containers[0].Name, SinceTime: &since}).DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("logs of %s: %w", p.Name, err)
	}
	lines := grepLines(string(raw), needles)
	return errors.Join(
		os.WriteFile(filepath.Join(r.dir, "daemon-full.log"), raw, 0o644),
		os.WriteFile(filepath.Join(r.dir, "daemon.log"), []byte(strings.Join(lines, "\n")+"\n"), 0o644),
	)
}

func (r *run) saveManifest() error {
	m := Manifest{
		Name: r.nad.Name, Namespace: r.namespace, Node: r.node.Name, Cluster: r.opts.Cluster,
		Types: r.nad.Distinct(), PluginType: r.pluginType, DelegateTimeout: r.delegateTimeout.String(),
		Count: r.opts.Count, Keep: r.opts.Keep, Start: r.start.UTC(), End: r.env.Now().UTC(),
	}
	if r.pluginType != "" {
		m.PluginFile = filepath.Join("plugin", r.pluginType)
		m.PluginSHA256 = r.pluginSum
		p := filepath.Join(r.dir, m.PluginFile)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, r.pluginData, 0o755); err != nil {
			return err
		}
	}
	return writeJSON(filepath.Join(r.dir, "repro.json"), m)
}

// cleanup deletes the namespace (the NAD and pods with it) and the files put on the nodes.
func (r *run) cleanup(ctx context.Context, log io.Writer) error {
	var errs []error
	core := r.env.Kube.Core.CoreV1()
	if r.nsCreated {
		err := core.Namespaces().Delete(ctx, r.namespace, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete namespace %s: %w", r.namespace, err))
		} else {
			gctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			err := wait.PollUntilContextCancel(gctx, time.Second, true, func(ctx context.Context) (bool, error) {
				_, err := core.Namespaces().Get(ctx, r.namespace, metav1.GetOptions{})
				return apierrors.IsNotFound(err), nil
			})
			cancel()
			if err != nil {
				errs = append(errs, fmt.Errorf("namespace %s not gone: %w", r.namespace, err))
			}
			fmt.Fprintf(log, "namespace %s deleted\n", r.namespace)
		}
	}
	// A namespace an earlier KEEP=1 run left still needs the recorder for its pods' DEL.
	keepRecorder := false
	if others, err := core.Namespaces().List(ctx, metav1.ListOptions{LabelSelector: runLabel}); err == nil {
		for _, ns := range others.Items {
			if ns.Name != r.namespace {
				keepRecorder = true
				fmt.Fprintf(log, "namespace %s (an earlier KEEP=1 run) still exists: the recorder stays\n", ns.Name)
			}
		}
	}
	for _, n := range r.recorderOn {
		var rm []string
		if !keepRecorder {
			for _, t := range r.nad.Distinct() {
				rm = append(rm, cniBinDir+"/"+recorderPrefix+t)
			}
		}
		if slices.Contains(r.pluginOn, n) {
			rm = append(rm, cniBinDir+"/"+r.pluginType, installedDir+"/"+r.pluginType)
		}
		rm = append(rm, recordRoot+"/"+r.namespace)
		if n == r.node.Name {
			rm = append(rm, r.faultState...)
		}
		if _, err := sh(ctx, r.env.Nodes, n, nil, `rm -rf "$@"`, rm...); err != nil {
			errs = append(errs, err)
		}
		fmt.Fprintf(log, "node %s: removed %v\n", n, rm)
	}
	return errors.Join(errs...)
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
