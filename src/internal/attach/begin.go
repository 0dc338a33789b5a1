package attach

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/multus-thick/multus-thick/src/internal/delegate"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// configKind says what a request's config bytes are.
type configKind int

const (
	// multusConfig is a /cni request: the runtime's 00-multus.conf with
	// the daemon-config keys merged.
	multusConfig configKind = iota
	// delegateConfig is a /delegate (hot-plug) request: one delegate's own
	// config.
	delegateConfig
)

// begun is a request past the opening every command shares (begin): its
// container's lock is held until end is called, its config is loaded and
// the runtime's shared inputs are parsed.
type begun struct {
	conf *netconf.NetConf  // multusConfig only
	d    *netconf.Delegate // delegateConfig only
	rt   *runtimeInput
	end  func()
}

// begin is the opening of ADD, CHECK, DEL and the hot-plug commands:
// validate the container ID, take the container's lock, load the config,
// build the runtime inputs. On error the lock is released again.
func (a *Attacher) begin(ctx context.Context, req *Request, kind configKind) (*begun, error) {
	if err := validContainerID(req.ContainerID); err != nil {
		return nil, err
	}
	unlock, err := a.lock(ctx, req.ContainerID)
	if err != nil {
		return nil, err
	}
	b, err := load(req, kind)
	if err != nil {
		unlock()
		return nil, err
	}
	b.end = unlock
	return b, nil
}

func load(req *Request, kind configKind) (*begun, error) {
	b := &begun{}
	var err error
	switch kind {
	case delegateConfig:
		if b.d, err = netconf.LoadDelegate(req.Config); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	default:
		if b.conf, err = loadConf(req.Config); err != nil {
			return nil, err
		}
	}
	if b.rt, err = newRuntimeInput(req); err != nil {
		return nil, err
	}
	if kind == delegateConfig {
		// The config is the delegate's own, not a Multus config: its
		// runtimeConfig is no runtime's, so nothing is taken from it.
		b.rt.runtimeConfig = nil
	}
	return b, nil
}

func loadConf(data []byte) (*netconf.NetConf, error) {
	conf, err := netconf.Load(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return conf, nil
}

func target(conf *netconf.NetConf) delegate.Target {
	return delegate.Target{BinDir: conf.BinDir, CacheDir: conf.CNIDir}
}

// getPod looks the pod up; no PodSource or no pod identity gives nil.
// The error wraps ErrPodNotFound when the pod does not exist.
func (a *Attacher) getPod(ctx context.Context, ref PodRef, op Op) (*corev1.Pod, error) {
	if a.opts.Pods == nil || ref.Name == "" {
		return nil, nil
	}
	pod, err := a.opts.Pods.GetPod(ctx, ref, op)
	if err != nil {
		return nil, fmt.Errorf("pod %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	return pod, nil
}
