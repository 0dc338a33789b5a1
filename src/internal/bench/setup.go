package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// setup prepares the host and the API server; each step registers the
// cleanup of what it made.
func (h *harness) setup(ctx context.Context) error {
	for _, st := range []phase{
		{"sweep leftovers", h.sweepLeftovers},
		{"work dirs", h.makeWorkDirs},
		{"networks", h.makeNetworks},
		{"API server", h.startAPIServer},
		{"bench objects", h.createObjects},
		{"in-cluster credentials", h.setupInCluster},
	} {
		if err := st.run(ctx); err != nil {
			return fmt.Errorf("setup: %s: %w", st.name, err)
		}
	}
	return nil
}

func (h *harness) sweepLeftovers(ctx context.Context) error {
	// A run killed with SIGKILL leaves namespaces and links behind; they all
	// start with "mtb", so sweep them first.
	if n, err := (host{prefix: "mtb", ip: h.cfg.IPBin}).sweep(ctx); err != nil {
		return err
	} else if n > 0 {
		h.log.Info("removed leftovers of an earlier run", "count", n)
	}
	h.onCleanup(func(ctx context.Context) error {
		_, err := h.host.sweep(ctx)
		return err
	})
	return nil
}

func (h *harness) makeWorkDirs(context.Context) error {
	var err error
	if h.work, err = os.MkdirTemp("", "mt-bench-"); err != nil {
		return err
	}
	h.onCleanup(func(context.Context) error { return os.RemoveAll(h.work) })
	h.autoconf = filepath.Join(h.work, "autoconf")
	h.ipamDir = filepath.Join(h.work, "ipam")
	for _, d := range []string{h.autoconf, h.ipamDir, h.cfg.OutDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}

	return nil
}

// makeNetworks makes the macvlan master and writes the cluster network's
// conflist and the NAD's config.
func (h *harness) makeNetworks(ctx context.Context) error {
	// The macvlan master: a veth pair on the host (no dummy links here).
	h.master = h.prefix + "m0"
	if err := h.host.addVethUp(ctx, h.master, h.prefix+"m1"); err != nil {
		return err
	}
	// The cluster network: a bridge without a host address or masquerade,
	// so nothing the pods hold is routable from or to the host.
	cluster := map[string]any{
		"cniVersion": "1.0.0",
		"name":       clusterNet,
		"plugins": []any{map[string]any{
			"type": "bridge", "bridge": h.prefix + "br", "isGateway": false, "ipMasq": false,
			"ipam": map[string]any{"type": "host-local", "dataDir": filepath.Join(h.ipamDir, "cluster"),
				"ranges": [][]map[string]string{{{"subnet": "10.250.0.0/16"}}}},
		}},
	}
	if err := writeJSON(filepath.Join(h.autoconf, "10-bench-cluster.conflist"), cluster); err != nil {
		return err
	}
	var err error
	if h.nadConf, err = json.Marshal(map[string]any{
		"cniVersion": "1.0.0", "name": macvlanNAD, "type": "macvlan", "master": h.master, "mode": "bridge",
		"ipam": map[string]any{"type": "host-local", "dataDir": filepath.Join(h.ipamDir, "macvlan"),
			"ranges": [][]map[string]string{{{"subnet": "10.251.0.0/16"}}}},
	}); err != nil {
		return err
	}
	return nil
}

// startAPIServer starts envtest's kube-apiserver and etcd and notes their
// pids, whose CPU the daemons' API traffic costs.
func (h *harness) startAPIServer(context.Context) error {
	assets, err := ResolveAssets(h.cfg.AssetDirs)
	if err != nil {
		return err
	}
	h.log.Info("starting kube-apiserver and etcd (envtest)", "apiserver", assets.APIServer, "etcd", assets.Etcd)
	start := time.Now()
	if h.cl, err = startCluster(assets, h.work); err != nil {
		return err
	}
	h.onCleanup(func(context.Context) error { return h.cl.stop() })
	h.log.Info("API server ready", "took", time.Since(start).Round(time.Millisecond))
	if snap, err := h.proc.Snapshot(); err == nil {
		for _, p := range snap {
			if p.PPID == os.Getpid() && (p.Comm == "etcd" || p.Comm == "kube-apiserver") {
				h.controlPlane = append(h.controlPlane, p.PID)
			}
		}
	}

	return nil
}

// createObjects creates the namespaces, the NAD and every side's pods.
func (h *harness) createObjects(ctx context.Context) error {
	for _, ns := range []string{benchNS, foreignNS} {
		if err := h.cl.ensureNamespace(ctx, ns); err != nil {
			return err
		}
	}
	if err := h.cl.createNAD(ctx, benchNS, macvlanNAD, string(h.nadConf)); err != nil {
		return err
	}
	// Each subject gets its own pods on its own node, so two daemons never
	// write the same pod's status and a daemon's cache holds its own pods
	// only (with one node for all, every extra subject would grow every
	// daemon's idle RSS); the floor needs no objects.
	n := h.params.podsPerSubject()
	var objs []*corev1.Pod
	for k := range h.cfg.Subjects {
		for i := range n {
			objs = append(objs, benchPod(benchNS, fmt.Sprintf("s%d-%d", k, i), h.nodeFor(k), macvlanNAD))
		}
	}
	uids, err := h.cl.createPods(ctx, objs, 16)
	if err != nil {
		return err
	}
	h.pods = make([][]benchPodRef, len(h.cfg.Subjects)+1)
	for k := range h.pods {
		for i := range n {
			name := fmt.Sprintf("s%d-%d", k, i)
			if k == len(h.cfg.Subjects) {
				name = fmt.Sprintf("floor-%d", i)
			}
			h.pods[k] = append(h.pods[k], benchPodRef{namespace: benchNS, name: name, uid: string(uids[name])})
		}
	}
	h.log.Info("bench objects created", "pods", len(objs), "node", h.cfg.NodeName, "perSubject", n)
	return nil
}

// nodeFor is the node subject k's pods are bound to and its daemon runs
// as: the -node name for the first, with "-<k>" appended for the others.
func (h *harness) nodeFor(k int) string {
	if k == 0 {
		return h.cfg.NodeName
	}
	return fmt.Sprintf("%s-%d", h.cfg.NodeName, k)
}

// setupInCluster prepares the service-account view for the subjects that
// only know in-cluster credentials: a token, the mount point, and
// /run/netns as a shared mount (what `ip netns add` makes it), so that the
// namespaces created after such a daemon starts reach its mount namespace.
func (h *harness) setupInCluster(ctx context.Context) error {
	if !slices.ContainsFunc(h.cfg.Subjects, func(s Subject) bool { return s.InCluster }) {
		return nil
	}
	probe := []string{h.prefix + "-probe"}
	if err := h.host.addNetns(ctx, probe); err != nil {
		return err
	}
	if err := h.host.delNetns(ctx, probe); err != nil {
		return err
	}
	target, undo, err := mountPoint(ServiceAccountDir)
	if err != nil {
		return fmt.Errorf("service-account mount point: %w", err)
	}
	h.onCleanup(func(context.Context) error { return undo() })
	h.saTarget = target
	if h.saToken, err = h.cl.serviceAccountToken(ctx, "kube-system", "multus"); err != nil {
		return err
	}
	return nil
}
