package bench

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// populateForeign fills the API with pods bound to other nodes and NADs, the
// objects a daemon must not pay for (pods) or pays little for (NADs).
func (h *harness) populateForeign(ctx context.Context) error {
	start := time.Now()
	if err := forEachBounded(ctx, h.params.ForeignNADs, 16, func(ctx context.Context, i int) error {
		conf := fmt.Sprintf(`{"cniVersion":"1.0.0","name":"foreign-%d","type":"macvlan","master":"eth0","ipam":{"type":"host-local","subnet":"10.%d.%d.0/24"}}`, i, 100+i/256, i%256)
		return h.cl.createNAD(ctx, foreignNS, fmt.Sprintf("foreign-%d", i), conf)
	}); err != nil {
		return err
	}
	pods := make([]*corev1.Pod, h.params.ForeignPods)
	for i := range pods {
		pods[i] = benchPod(foreignNS, fmt.Sprintf("foreign-%d", i), fmt.Sprintf("other-node-%d", i%50), fmt.Sprintf("foreign-%d", i%max(1, h.params.ForeignNADs)))
	}
	if _, err := h.cl.createPods(ctx, pods, 32); err != nil {
		return err
	}
	h.log.Info("foreign objects created", "pods", h.params.ForeignPods, "nads", h.params.ForeignNADs, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// runLoaded restarts the subject's daemon with the foreign objects in the
// API and measures start to ready and idle RSS again.
func (h *harness) runLoaded(ctx context.Context, k int, s Subject, res *SubjectResult) error {
	d, err := h.subjectDirs(k, s)
	if err != nil {
		return err
	}
	p, starts, err := h.startRepeated(ctx, s, d, min(h.params.Starts, 3), res)
	if err != nil {
		return err
	}
	defer func() { _ = p.stop(10 * time.Second) }()
	res.StartToReadyLoaded = starts
	if err := sleepCtx(ctx, h.params.idleSettle()); err != nil {
		return err
	}
	st, err := h.proc.Status(p.pid)
	if err != nil {
		return err
	}
	res.IdleRSSLoadedKiB, res.IdleLoadedAnonKiB = st.RSSKiB, st.AnonKiB
	h.log.Info("idle RSS, loaded cluster", "subject", s.Name, "MiB", mib(st.RSSKiB), "anon_MiB", mib(st.AnonKiB))
	return nil
}
