package attach

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/containernetworking/cni/libcni"
	cnitypes "github.com/containernetworking/cni/pkg/types"

	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// validAttachmentsKey is where the runtime lists the attachments it still
// uses, in the GC config.
const validAttachmentsKey = "cni.dev/valid-attachments"

// GC removes every attachment this daemon created (cluster and secondary
// networks) whose container is not among the runtime's valid attachments,
// then lets each network's plugins garbage-collect (CNI >= 1.1.0).
//
// Validity is by container ID: the runtime lists (containerID, ifname) of
// the Multus network, and every interface Multus made for a valid container
// is valid, whatever its ifname.
func (a *Attacher) GC(ctx context.Context, req *Request) error {
	conf, err := loadConf(req.Config)
	if err != nil {
		return err
	}
	runtimeValid, err := validAttachments(req.Config)
	if err != nil {
		return err
	}
	validIDs := map[string]bool{}
	for _, v := range runtimeValid {
		validIDs[v.ContainerID] = true
	}
	t := target(conf)
	cached, err := a.runner.CNI(t).GetCachedAttachments("")
	if err != nil {
		return fmt.Errorf("list cached attachments: %w", err)
	}
	var errs []error
	failedIDs := map[string]bool{}
	for _, att := range cached {
		if validIDs[att.ContainerID] {
			continue
		}
		if err := a.gcAttachment(ctx, req, conf, att); err != nil {
			failedIDs[att.ContainerID] = true
			errs = append(errs, err)
		}
	}
	errs = append(errs, a.gcScratch(req, conf, validIDs, failedIDs)...)
	errs = append(errs, a.gcPlugins(ctx, req, conf, runtimeValid, validIDs, cached)...)
	return errors.Join(errs...)
}

func validAttachments(config []byte) ([]cnitypes.GCAttachment, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(config, &top); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	raw, ok := top[validAttachmentsKey]
	if !ok {
		// Without the list every attachment would look stale; refuse
		// rather than delete the node's pods.
		return nil, fmt.Errorf("%w: GC config has no %q", ErrInvalidConfig, validAttachmentsKey)
	}
	var valid []cnitypes.GCAttachment
	if err := json.Unmarshal(raw, &valid); err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrInvalidConfig, validAttachmentsKey, err)
	}
	return valid, nil
}

// gcAttachment deletes one stale attachment with the config and runtime
// arguments libcni cached at its ADD.
func (a *Attacher) gcAttachment(ctx context.Context, req *Request, conf *netconf.NetConf, att *libcni.NetworkAttachment) error {
	unlock, err := a.lock(ctx, att.ContainerID)
	if err != nil {
		return err
	}
	defer unlock()
	d, err := netconf.LoadDelegate(att.Config)
	if err != nil {
		return fmt.Errorf("stale attachment %s/%s of %q: %w", att.ContainerID, att.IfName, att.Network, err)
	}
	if err := d.SetCNIVersionIfMissing(conf.CNIVersion); err != nil {
		return err
	}
	rt := &libcni.RuntimeConf{ContainerID: att.ContainerID, NetNS: att.NetNS, IfName: att.IfName, Args: att.CniArgs, CapabilityArgs: att.CapabilityArgs}
	req.Logger.Info("GC: deleting stale attachment", "container", att.ContainerID, "ifname", att.IfName, "network", att.Network)
	if err := a.runner.Del(cleanupContext(ctx), target(conf), d, rt); err != nil {
		return fmt.Errorf("stale attachment %s/%s: %w", att.ContainerID, att.IfName, err)
	}
	if dev, ok := att.CapabilityArgs["CNIDeviceInfoFile"].(string); ok && dev != "" && filepath.IsAbs(dev) {
		_ = removeIfExists(dev)
	}
	return nil
}

// gcScratch removes the delegate caches of stale containers whose
// attachments were all deleted.
func (a *Attacher) gcScratch(req *Request, conf *netconf.NetConf, validIDs, failedIDs map[string]bool) []error {
	entries, err := os.ReadDir(conf.CNIDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return []error{fmt.Errorf("list %s: %w", conf.CNIDir, err)}
	}
	var errs []error
	for _, e := range entries {
		id := e.Name()
		if !e.Type().IsRegular() || validIDs[id] || failedIDs[id] || validContainerID(id) != nil || filepath.Ext(id) == ".corrupt" {
			continue
		}
		req.Logger.Info("GC: removing stale delegate cache", "container", id)
		if err := removeIfExists(filepath.Join(conf.CNIDir, id)); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// gcPlugins runs plugin-level GC for the cluster network and for every
// secondary network still in the result cache, each with the attachments
// that remain valid for it.
func (a *Attacher) gcPlugins(ctx context.Context, req *Request, conf *netconf.NetConf, runtimeValid []cnitypes.GCAttachment, validIDs map[string]bool, cached []*libcni.NetworkAttachment) []error {
	perNet := map[string][]cnitypes.GCAttachment{}
	configs := map[string][]byte{}
	for _, att := range cached {
		if validIDs[att.ContainerID] {
			perNet[att.Network] = append(perNet[att.Network], cnitypes.GCAttachment{ContainerID: att.ContainerID, IfName: att.IfName})
			configs[att.Network] = att.Config
		}
	}
	var errs []error
	cluster, err := a.opts.Resolver.ClusterNetwork(ctx, conf)
	if err != nil {
		errs = append(errs, fmt.Errorf("resolve cluster network: %w", err))
	} else {
		valid := uniqueAttachments(append(append([]cnitypes.GCAttachment{}, runtimeValid...), perNet[cluster.CNIName()]...))
		if err := a.runner.GC(ctx, target(conf), cluster, valid); err != nil {
			errs = append(errs, err)
		}
		delete(configs, cluster.CNIName())
	}
	names := make([]string, 0, len(configs))
	for n := range configs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d, err := netconf.LoadDelegate(configs[n])
		if err != nil {
			errs = append(errs, fmt.Errorf("network %q: cached config: %w", n, err))
			continue
		}
		if !atLeast(d.CNIVersion(), "1.1.0") {
			continue
		}
		req.Logger.Debug("GC: plugin-level GC", "network", n, "valid", len(perNet[n]))
		if err := a.runner.GC(ctx, target(conf), d, perNet[n]); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func uniqueAttachments(in []cnitypes.GCAttachment) []cnitypes.GCAttachment {
	seen := map[cnitypes.GCAttachment]bool{}
	out := in[:0]
	for _, a := range in {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}
