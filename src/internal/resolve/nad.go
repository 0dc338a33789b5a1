package resolve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
	"github.com/multus-thick/multus-thick/src/internal/netselect"
)

// fromNAD builds the delegate of one NAD that the pod's annotation (named
// by source, for the log) selected (§4.5). It is the only way from
// pod-controlled input to a NAD, so namespace isolation is decided here,
// before the lookup. Errors name the NAD and the rule; a refusal, a
// missing NAD and a bad config leave an event on the pod.
func (r *Resolver) fromNAD(ctx context.Context, req *request, sel *netselect.Selection, source string) (*netconf.Delegate, error) {
	ref := sel.Namespace + "/" + sel.Name
	if err := admit(req.conf, req.pod, sel); err != nil {
		r.warn(req.pod, ReasonNetworkForbidden, err.Error())
		r.log.Warn("network refused by namespace isolation", "source", source, "network", ref)
		return nil, err
	}
	if r.nads == nil {
		return nil, fmt.Errorf("network-attachment-definition %s: %w", ref, ErrNoNADSource)
	}
	nad, err := r.nads.GetNAD(ctx, sel.Namespace, sel.Name)
	if err != nil {
		if errors.Is(err, ErrNADNotFound) {
			r.warn(req.pod, ReasonNoNetworkFound, fmt.Sprintf(
				"cannot find a network-attachment-definition (%s) in namespace (%s): %v", sel.Name, sel.Namespace, err))
		}
		return nil, fmt.Errorf("network-attachment-definition %s: %w", ref, err)
	}
	d, err := r.delegateFromNAD(ctx, req, nad, sel)
	if err != nil {
		err = fmt.Errorf("network-attachment-definition %s: %w", ref, err)
		r.warn(req.pod, ReasonInvalidNetwork, err.Error())
		return nil, err
	}
	return d, nil
}

// delegateFromNAD turns a NAD plus the pod's requests into a delegate.
func (r *Resolver) delegateFromNAD(ctx context.Context, req *request, nad *nadv1.NetworkAttachmentDefinition, sel *netselect.Selection) (*netconf.Delegate, error) {
	d, err := r.nadConfig(req.conf.ConfDir, nad)
	if err != nil {
		return nil, err
	}
	if err := r.checkSelfCall(req.conf, d); err != nil {
		return nil, err
	}
	if res := nad.Annotations[api.ResourceNameAnnotation]; res != "" {
		id, err := r.nextDeviceID(ctx, req, res)
		if err != nil {
			return nil, err
		}
		if id == "" && req.fetched {
			r.warn(req.pod, ReasonNoDevice, fmt.Sprintf("network-attachment-definition %s/%s: the pod has no device of resource %q left; the delegate gets no device ID", nad.Namespace, nad.Name, res))
		}
		if id != "" {
			if err := d.InjectFields(map[string]any{"deviceID": id, "pciBusID": id}); err != nil {
				return nil, err
			}
			d.DeviceID, d.ResourceName = id, res
		}
	}
	if sel != nil {
		if err := d.InjectCNIArgs(sel.CNIArgs); err != nil {
			return nil, fmt.Errorf("cni-args: %w", err)
		}
		applyRequests(d, sel)
	}
	d.Name = nad.Namespace + "/" + nad.Name
	return d, nil
}

// nadConfig is the NAD's CNI config: spec.config with the NAD name
// injected when it has none, or, for an empty spec, the confDir file whose
// network name is the NAD name.
func (r *Resolver) nadConfig(confDir string, nad *nadv1.NetworkAttachmentDefinition) (*netconf.Delegate, error) {
	if dropped, ok := nad.Annotations[OversizedAnnotation]; ok {
		var size int
		if _, err := fmt.Sscan(dropped, &size); err != nil || size <= r.limits.MaxNADConfigBytes {
			size = r.limits.MaxNADConfigBytes + 1 // dropped by a larger cache-side bound: still over
		}
		return nil, r.checkConfigSize(size)
	}
	if err := r.checkConfigSize(len(nad.Spec.Config)); err != nil {
		return nil, err
	}
	if nad.Spec.Config == "" {
		d, err := findByName(confDir, nad.Name)
		if err != nil {
			return nil, fmt.Errorf("empty spec.config and no config named %q in confDir %s: %w", nad.Name, confDir, err)
		}
		return d, nil
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal([]byte(nad.Spec.Config), &probe); err != nil {
		return nil, fmt.Errorf("spec.config is not a JSON object: %w", err)
	}
	d, err := netconf.LoadDelegate([]byte(nad.Spec.Config))
	if err != nil {
		return nil, fmt.Errorf("spec.config: %w", err)
	}
	if d.CNIName() == "" {
		if err := d.SetName(nad.Name); err != nil {
			return nil, fmt.Errorf("spec.config: %w", err)
		}
	}
	return d, nil
}

// applyRequests copies the per-network requests of the annotation.
func applyRequests(d *netconf.Delegate, sel *netselect.Selection) {
	d.IfnameRequest = sel.Interface
	d.MacRequest = sel.MAC
	d.InfinibandGUIDRequest = sel.InfinibandGUID
	d.IPRequest = sel.IPs
	d.PortMappingsRequest = sel.PortMappings
	d.BandwidthRequest = sel.Bandwidth
	if sel.GatewayRequest != nil {
		gws := append([]net.IP{}, (*sel.GatewayRequest)...)
		d.GatewayRequest = &gws
	}
	// The annotation's deviceID only counts when the resource map gave
	// none (upstream's rule); it reaches the delegate as runtimeConfig.
	if d.DeviceID == "" {
		d.DeviceID = sel.DeviceID
	}
}

// nextDeviceID hands out the resource's device IDs in order, fetching
// them once per request.
func (r *Resolver) nextDeviceID(ctx context.Context, req *request, resource string) (string, error) {
	if r.devices == nil || req.pod == nil {
		return "", nil
	}
	if !req.fetched {
		ids, err := r.devices.DeviceIDs(ctx, req.pod)
		if err != nil && !errors.Is(err, ErrDevicesIncomplete) {
			return "", fmt.Errorf("device IDs of resource %q: %w", resource, err)
		}
		req.devices, req.next, req.fetched, req.devErr = ids, map[string]int{}, true, err
	}
	ids, i := req.devices[resource], req.next[resource]
	if i >= len(ids) {
		if req.devErr != nil {
			return "", fmt.Errorf("no device of resource %q for this network: %w", resource, req.devErr)
		}
		return "", nil
	}
	req.next[resource] = i + 1
	return ids[i], nil
}

// network resolves a clusterNetwork or defaultNetworks value (§4.4): a
// path to a file or directory, else a NAD in multusNamespace, else a CNI
// config name in confDir.
func (r *Resolver) network(ctx context.Context, req *request, value string) (*netconf.Delegate, error) {
	if isPath(value) {
		d, err := loadPath(value)
		return r.checkedFile(req.conf, d, err)
	}
	var probeErr error
	if r.nads != nil {
		nad, err := r.probeNAD(ctx, req.conf.MultusNamespace, value)
		if err == nil {
			d, err := r.delegateFromNAD(ctx, req, nad, nil)
			if err != nil {
				return nil, fmt.Errorf("network-attachment-definition %s/%s: %w", nad.Namespace, nad.Name, err)
			}
			return d, nil
		}
		// A failed lookup (API down before the cache synced) still lets a
		// config file of that name serve: the cluster network must not
		// depend on the API when it is configured on disk.
		if !errors.Is(err, ErrNADNotFound) {
			probeErr = err
		}
	}
	d, err := findByName(req.conf.ConfDir, value)
	if err != nil {
		if probeErr != nil {
			return nil, fmt.Errorf("network-attachment-definition %s/%s: %w (and confDir %s: %w)", req.conf.MultusNamespace, value, probeErr, req.conf.ConfDir, err)
		}
		return nil, fmt.Errorf("no network-attachment-definition in %q and no config in confDir %s: %w", req.conf.MultusNamespace, req.conf.ConfDir, err)
	}
	if probeErr != nil {
		r.log.Warn("network-attachment-definition lookup failed; using the confDir config of that name", "network", value, "err", probeErr)
	}
	return r.checkedFile(req.conf, d, nil)
}

// checkedFile applies the self-call check to a delegate loaded from a file.
func (r *Resolver) checkedFile(conf *netconf.NetConf, d *netconf.Delegate, err error) (*netconf.Delegate, error) {
	if err != nil {
		return nil, err
	}
	if err := r.checkSelfCall(conf, d); err != nil {
		return nil, fmt.Errorf("config %q: %w", d.Name, err)
	}
	return d, nil
}

func (r *Resolver) probeNAD(ctx context.Context, ns, name string) (*nadv1.NetworkAttachmentDefinition, error) {
	if p, ok := r.nads.(NADProber); ok {
		return p.ProbeNAD(ctx, ns, name)
	}
	return r.nads.GetNAD(ctx, ns, name)
}
