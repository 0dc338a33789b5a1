package attach

import (
	"context"
	"errors"
	"fmt"

	cnitypes "github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/multus-thick/multus-thick/src/internal/delegate"
	"github.com/multus-thick/multus-thick/src/internal/logx"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// Add attaches the pod to every network the resolver names, in order.
// Either every delegate succeeds and the network-status annotation is
// written, or everything done so far is undone (reverse DEL, cache file
// removed) and the error is returned.
func (a *Attacher) Add(ctx context.Context, req *Request) (cnitypes.Result, error) {
	b, err := a.begin(ctx, req, multusConfig)
	if err != nil {
		return nil, err
	}
	defer b.end()
	conf := b.conf
	pod, err := a.getPod(ctx, req.Pod, OpAdd)
	if errors.Is(err, ErrPodNotFound) {
		// Upstream's behaviour: a pod deleted before its sandbox came up
		// gets a placeholder result, so the runtime can tear it down.
		req.Logger.Warn("pod not found at ADD, returning a placeholder result", "err", err)
		return placeholderResult(req), nil
	}
	if err != nil {
		return nil, err
	}
	ds, err := a.opts.Resolver.Delegates(ctx, conf, pod)
	if err != nil {
		return nil, a.failed(pod, nil, fmt.Errorf("resolve networks: %w", err))
	}
	if len(ds) == 0 {
		return nil, a.failed(pod, nil, fmt.Errorf("%w: no networks to attach", ErrInvalidConfig))
	}
	if err := checkDelegates(ds, req.IfName); err != nil {
		return nil, a.failed(pod, nil, err)
	}
	atts, err := a.prepare(b.rt, ds)
	if err != nil {
		return nil, a.failed(pod, nil, err)
	}
	if res, repeated, err := a.repeatedAdd(req, conf, atts); repeated {
		if err != nil {
			return nil, a.failed(pod, nil, err)
		}
		return res, nil
	}
	tx := &addTx{a: a, req: req, pod: pod, t: target(conf)}
	return tx.run(ctx, atts)
}

// addTx is one ADD in progress: the attachments that ran are the rollback
// stack.
type addTx struct {
	a   *Attacher
	req *Request
	pod *corev1.Pod
	t   delegate.Target
	// ran is the rollback stack: attachments whose ADD was attempted.
	ran []*attachment
	// allDelegates is the record of the ADD (every delegate, in order).
	allDelegates []*netconf.Delegate
	// hotplug is the container's record a /delegate ADD joined; nil for
	// /cni, and for a container without a record.
	hotplug *hotplugRec
	// added is what event reported, for the one-per-ADD AddedInterfaces.
	added []AddedInterface
}

func (tx *addTx) run(ctx context.Context, atts []*attachment) (cnitypes.Result, error) {
	a, req := tx.a, tx.req
	// The cache is written before any delegate runs, so that a crash
	// mid-ADD still leaves DEL the list of what to undo.
	tx.allDelegates = delegatesOf(atts)
	if err := writeScratch(tx.t.CacheDir, req.ContainerID, tx.allDelegates); err != nil {
		return nil, a.failed(tx.pod, nil, err)
	}
	var (
		chosen       *types100.Result
		chosenMaster bool
		statuses     []nadv1.NetworkStatus
	)
	for _, at := range atts {
		res, err := tx.addOne(ctx, at)
		if err != nil {
			return nil, tx.rollback(ctx, at, err)
		}
		// The master's result, or the first delegate's when none is master.
		if chosen == nil || (at.d.MasterPlugin && !chosenMaster) {
			chosen, chosenMaster = res, at.d.MasterPlugin
		}
		tx.event(at, res)
		if tx.pod != nil {
			statuses = append(statuses, networkStatuses(at, res, at.d.MasterPlugin)...)
		}
	}
	if err := tx.writeStatus(ctx, statuses); err != nil {
		return nil, tx.rollback(ctx, nil, err)
	}
	tx.addedAll()
	return chosen, nil
}

// addOne runs one delegate's ADD and the daemon's own work after it.
func (tx *addTx) addOne(ctx context.Context, at *attachment) (*types100.Result, error) {
	a, req := tx.a, tx.req
	if req.Netns != "" {
		exists, err := a.net.LinkExists(req.Netns, at.ifname)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", at, err)
		}
		if exists {
			return nil, fmt.Errorf("%s: %w: interface name %s already exists in netns %s", at, ErrInvalidConfig, at.ifname, req.Netns)
		}
	}
	tx.ran = append(tx.ran, at)
	if err := a.copyDPDeviceInfo(at.d, at.devInfo); err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	raw, err := a.runner.Add(ctx, tx.t, at.d, at.rt)
	if err != nil {
		return nil, err
	}
	res, err := toV100(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	if len(res.Interfaces) == 0 && len(res.IPs) == 0 {
		return res, nil
	}
	plan, ok := planRoutes(at.d)
	if !ok {
		return res, nil
	}
	if req.Netns != "" {
		if err := a.net.SetDefaultRoutes(req.Netns, at.ifname, plan.delV4, plan.delV6, plan.gateways); err != nil {
			return nil, fmt.Errorf("%s: default-route: %w", at, err)
		}
	}
	if err := editResultCache(tx.t.CacheDir, at.d.CNIName(), req.ContainerID, at.ifname, plan); err != nil {
		return nil, fmt.Errorf("%s: default-route: %w", at, err)
	}
	applyRoutesToResult(res, plan)
	return res, nil
}

// rollback undoes the ADD: DEL of every attempted attachment in reverse
// (the failed one included, so its partial work is released), then the
// cache file goes, leaving nothing behind. The ADD's own error is what the
// runtime must see; what the rollback did, and any error of its own, goes
// with it as log attributes (the server logs the failed ADD once).
func (tx *addTx) rollback(ctx context.Context, failedAt *attachment, cause error) error {
	a, req := tx.a, tx.req
	attrs := []any{"rolledBack", len(tx.ran)}
	var cacheErrs []error
	// The record lists every delegate of the ADD; those that never ran
	// hold nothing, the others are marked pending until their DEL succeeds.
	ds := tx.allDelegates
	ran := map[*netconf.Delegate]bool{}
	for _, at := range tx.ran {
		ran[at.d] = true
	}
	for _, d := range ds {
		d.Released = d.Released || !ran[d]
	}
	path := scratchPath(tx.t.CacheDir, req.ContainerID)
	if err := a.markDeleting(path, ds, nil, true); err != nil {
		cacheErrs = append(cacheErrs, err)
	}
	if err := a.delAll(ctx, req, tx.t, tx.ran); err != nil {
		// The delegate cache is kept and the DEL retried in the background.
		attrs = append(attrs, "rollbackErr", err, "cacheKept", path)
	}
	if _, err := a.finishRecord(path, req.ContainerID, ds); err != nil {
		cacheErrs = append(cacheErrs, err)
	}
	if err := errors.Join(cacheErrs...); err != nil {
		attrs = append(attrs, "rollbackCacheErr", err)
	}
	return logx.WithAttrs(a.failed(tx.pod, failedAt, cause), attrs...)
}

// failed emits the AddFailed event and returns err.
func (a *Attacher) failed(pod *corev1.Pod, at *attachment, err error) error {
	if a.opts.Events != nil && pod != nil {
		network, typ := "", ""
		if at != nil {
			network, typ = at.d.Name, at.d.Type()
		}
		a.opts.Events.AddFailed(pod, network, typ, Code(err), err)
	}
	return err
}

func (tx *addTx) event(at *attachment, res *types100.Result) {
	if tx.a.opts.Events == nil || tx.pod == nil || (len(res.Interfaces) == 0 && len(res.IPs) == 0) {
		return
	}
	ips := make([]string, 0, len(res.IPs))
	for _, ip := range res.IPs {
		ips = append(ips, ip.Address.String())
	}
	tx.a.opts.Events.AddedInterface(tx.pod, at.ifname, ips, at.d.Name)
	tx.added = append(tx.added, AddedInterface{IfName: at.ifname, IPs: ips, Network: at.d.Name})
}

// addedAll reports every interface of the ADD once it succeeded.
func (tx *addTx) addedAll() {
	if tx.a.opts.Events == nil || tx.pod == nil || len(tx.added) == 0 {
		return
	}
	tx.a.opts.Events.AddedInterfaces(tx.pod, tx.added)
}
