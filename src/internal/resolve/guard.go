package resolve

import (
	"errors"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"

	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
	"github.com/multus-thick/multus-thick/src/internal/netselect"
)

// What a tenant (whoever may create a pod or a NAD in one namespace) can
// make the daemon do is decided here: which namespaces a pod may take NADs
// from, which delegate types would call back into this daemon, and how
// much one pod's annotations and one NAD may cost.

// ErrSelfCall means a delegate would run this meta-plugin again: its
// request would come back to the daemon for the same container and wait
// on the lock the outer request holds.
var ErrSelfCall = errors.New("delegate would call multus itself")

// ErrLimit means a pod's annotation or a NAD is over one of the daemon's
// bounds (the error names the key).
var ErrLimit = errors.New("over a daemon limit")

// selfTypes are plugin types that are a Multus meta-plugin: our shim and
// upstream's thin plugin and shim, and the daemon binaries.
var selfTypes = []string{"multus-shim", "multus", "multus-daemon"}

// Defaults of Limits, sized so that the worst case fits a 512 MiB daemon
// with room to spare: one request resolves at most DefaultMaxNetworks NADs
// of at most DefaultMaxNADConfigBytes each (2 MiB, 2.7 MiB more as the
// base64 scratch cache).
const (
	DefaultMaxNetworks       = 32
	DefaultMaxNADConfigBytes = 64 << 10
)

// Limits bound one pod's cost at resolve time; zero fields take defaults.
type Limits struct {
	// MaxNetworks bounds the entries of one networks annotation
	// (maxNetworksPerPod).
	MaxNetworks int
	// MaxNADConfigBytes bounds one NAD's spec.config (maxNADConfigBytes).
	MaxNADConfigBytes int
}

func (l Limits) withDefaults() Limits {
	if l.MaxNetworks <= 0 {
		l.MaxNetworks = DefaultMaxNetworks
	}
	if l.MaxNADConfigBytes <= 0 {
		l.MaxNADConfigBytes = DefaultMaxNADConfigBytes
	}
	return l
}

// OversizedAnnotation is set by the NAD informer's transform on a NAD whose
// spec.config it dropped for being over MaxNADConfigBytes; the value is the
// original size. The cache then holds a few bytes instead of the config,
// and resolution refuses the NAD as if it had seen the whole config.
const OversizedAnnotation = "multus-thick.io/dropped-config-bytes"

// PluginLocator finds the file a plugin type would execute from, as the
// delegate runner finds it (binDir first, then the daemon's CNI_PATH,
// inside the chroot when there is one).
type PluginLocator interface {
	Locate(binDir, pluginType string) (os.FileInfo, error)
}

// admit is the one decision on whether a pod may use a NAD that its own
// annotations named; every pod-controlled reference (the networks
// annotation in text and JSON form, its "namespace" field, the
// default-network annotation) reaches a NAD only through fromNAD, which
// calls this. With namespaceIsolation a pod may use NADs of its own
// namespace and of globalNamespaces only. The same rule holds for the
// default-network annotation, whose default namespace is multusNamespace:
// an operator who wants tenants to pick default networks from there lists
// it in globalNamespaces.
func admit(conf *netconf.NetConf, pod *corev1.Pod, sel *netselect.Selection) error {
	if !conf.NamespaceIsolation || pod == nil || sel.Namespace == pod.Namespace {
		return nil
	}
	for _, ns := range conf.GlobalNamespaces {
		if ns == sel.Namespace {
			return nil
		}
	}
	return fmt.Errorf("%w: network-attachment-definition %s/%s is outside the pod's namespace %q and globalNamespaces %v",
		ErrForbidden, sel.Namespace, sel.Name, pod.Namespace, conf.GlobalNamespaces)
}

// checkSelfCall refuses a delegate any of whose plugins is a Multus
// meta-plugin by name, or is the same file as this node's shim (a copy
// under another name is caught by the server's socket check instead).
func (r *Resolver) checkSelfCall(conf *netconf.NetConf, d *netconf.Delegate) error {
	types := []string{d.Conf.Type}
	if d.ConfListPlugin {
		types = types[:0]
		for _, p := range d.ConfList.Plugins {
			types = append(types, p.Type)
		}
	}
	names := append(append([]string(nil), selfTypes...), r.selfTypes...)
	for _, t := range types {
		for _, self := range names {
			if t == self {
				return fmt.Errorf("%w: plugin type %q is a Multus meta-plugin; its request would come back to this daemon for the same container", ErrSelfCall, t)
			}
		}
	}
	if r.plugins == nil {
		return nil
	}
	var shims []os.FileInfo
	for _, self := range names {
		if fi, err := r.plugins.Locate(conf.BinDir, self); err == nil {
			shims = append(shims, fi)
		}
	}
	for _, t := range types {
		fi, err := r.plugins.Locate(conf.BinDir, t)
		if err != nil {
			continue // the runner reports a missing plugin with its own error
		}
		for _, shim := range shims {
			if os.SameFile(fi, shim) {
				return fmt.Errorf("%w: plugin type %q is the same file as the multus shim; its request would come back to this daemon for the same container", ErrSelfCall, t)
			}
		}
	}
	return nil
}

// checkEntries bounds the number of networks one annotation selects.
func (r *Resolver) checkEntries(sels []netselect.Selection) error {
	if len(sels) <= r.limits.MaxNetworks {
		return nil
	}
	first := sels[r.limits.MaxNetworks]
	return fmt.Errorf("%w: %w: %d entries (network-attachment-definition %s/%s is entry %d), over the limit of %d (maxNetworksPerPod)",
		attach.ErrInvalidConfig, ErrLimit, len(sels), first.Namespace, first.Name, r.limits.MaxNetworks+1, r.limits.MaxNetworks)
}

// checkConfigSize bounds one NAD's spec.config, before it is parsed.
func (r *Resolver) checkConfigSize(size int) error {
	if size <= r.limits.MaxNADConfigBytes {
		return nil
	}
	return fmt.Errorf("%w: %w: spec.config is %d bytes, over the limit of %d (maxNADConfigBytes)",
		attach.ErrInvalidConfig, ErrLimit, size, r.limits.MaxNADConfigBytes)
}
