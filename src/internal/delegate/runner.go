package delegate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	cnitypes "github.com/containernetworking/cni/pkg/types"

	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// Defaults for Config.
const (
	DefaultTimeout       = 2 * time.Minute
	DefaultMaxConcurrent = 16
)

// Config is what a Runner is built from; the composition root resolves
// every field (CNI_PATH included), nothing below reads the environment.
type Config struct {
	// Exec runs the plugins; nil means NewExec().
	Exec invoke.Exec
	// ExtraPaths are searched after a request's binDir (the daemon's
	// CNI_PATH, split).
	ExtraPaths []string
	// Timeout bounds every delegate call (0: DefaultTimeout).
	Timeout time.Duration
	// MaxConcurrent bounds concurrent delegate calls (0: DefaultMaxConcurrent).
	MaxConcurrent int
	// Done, when set, is told about every finished delegate call.
	Done func(delegateType, command string, d time.Duration, err error)
}

// Runner executes delegates. It is safe for concurrent use.
type Runner struct {
	exec    invoke.Exec
	extra   []string
	timeout time.Duration
	pool    *Pool
	done    func(string, string, time.Duration, error)
}

// Target says where the plugins and libcni's cache are for one request.
type Target struct {
	BinDir   string
	CacheDir string
}

// NewRunner builds a Runner from cfg, applying defaults.
func NewRunner(cfg Config) *Runner {
	r := &Runner{exec: cfg.Exec, extra: cfg.ExtraPaths, timeout: cfg.Timeout, done: cfg.Done}
	if r.exec == nil {
		r.exec = NewExec()
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	n := cfg.MaxConcurrent
	if n <= 0 {
		n = DefaultMaxConcurrent
	}
	r.pool = NewPool(n)
	return r
}

// CNI returns the libcni handle for t: binDir first, then the extra paths.
func (r *Runner) CNI(t Target) *libcni.CNIConfig {
	paths := make([]string, 0, 1+len(r.extra))
	if t.BinDir != "" {
		paths = append(paths, t.BinDir)
	}
	paths = append(paths, r.extra...)
	return libcni.NewCNIConfigWithCacheDir(paths, t.CacheDir, r.exec)
}

// Add runs ADD for d with rt.
func (r *Runner) Add(ctx context.Context, t Target, d *netconf.Delegate, rt *libcni.RuntimeConf) (cnitypes.Result, error) {
	var res cnitypes.Result
	err := r.call(ctx, d, rt, "add", func(ctx context.Context, cni *libcni.CNIConfig, list *libcni.NetworkConfigList, conf *libcni.PluginConfig) error {
		var err error
		if list != nil {
			res, err = cni.AddNetworkList(ctx, list, rt)
		} else {
			res, err = cni.AddNetwork(ctx, conf, rt)
		}
		return err
	}, t)
	return res, err
}

// Del runs DEL for d with rt.
func (r *Runner) Del(ctx context.Context, t Target, d *netconf.Delegate, rt *libcni.RuntimeConf) error {
	return r.call(ctx, d, rt, "del", func(ctx context.Context, cni *libcni.CNIConfig, list *libcni.NetworkConfigList, conf *libcni.PluginConfig) error {
		if list != nil {
			return cni.DelNetworkList(ctx, list, rt)
		}
		return cni.DelNetwork(ctx, conf, rt)
	}, t)
}

// Check runs CHECK for d with rt.
func (r *Runner) Check(ctx context.Context, t Target, d *netconf.Delegate, rt *libcni.RuntimeConf) error {
	return r.call(ctx, d, rt, "check", func(ctx context.Context, cni *libcni.CNIConfig, list *libcni.NetworkConfigList, conf *libcni.PluginConfig) error {
		if list != nil {
			return cni.CheckNetworkList(ctx, list, rt)
		}
		return cni.CheckNetwork(ctx, conf, rt)
	}, t)
}

// Status runs STATUS for d (a single conf is wrapped into a list).
// libcni skips lists whose cniVersion is below 1.1.0.
func (r *Runner) Status(ctx context.Context, t Target, d *netconf.Delegate) error {
	return r.call(ctx, d, nil, "status", func(ctx context.Context, cni *libcni.CNIConfig, list *libcni.NetworkConfigList, conf *libcni.PluginConfig) error {
		if list == nil {
			var err error
			if list, err = libcni.ConfListFromConf(conf); err != nil {
				return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
			}
		}
		return cni.GetStatusNetworkList(ctx, list)
	}, t)
}

// GC runs libcni's GC for d: DEL of the attachments of d's network that
// are in the result cache but not in valid, then plugin-level GC when the
// network's cniVersion is at least 1.1.0.
func (r *Runner) GC(ctx context.Context, t Target, d *netconf.Delegate, valid []cnitypes.GCAttachment) error {
	return r.call(ctx, d, nil, "gc", func(ctx context.Context, cni *libcni.CNIConfig, list *libcni.NetworkConfigList, conf *libcni.PluginConfig) error {
		if list == nil {
			var err error
			if list, err = libcni.ConfListFromConf(conf); err != nil {
				return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
			}
		}
		return cni.GCNetworkList(ctx, list, &libcni.GCArgs{ValidAttachments: valid})
	}, t)
}

// ErrInvalidConfig marks a delegate config libcni cannot parse.
var ErrInvalidConfig = errors.New("invalid delegate config")

type op func(ctx context.Context, cni *libcni.CNIConfig, list *libcni.NetworkConfigList, conf *libcni.PluginConfig) error

// call is the shared preamble of every command: parse the config, take a
// pool slot, apply the deadline, and name the delegate in the error.
func (r *Runner) call(ctx context.Context, d *netconf.Delegate, rt *libcni.RuntimeConf, command string, run op, t Target) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("%s: %s: %w", Describe(d, rt), command, err)
		}
	}()
	list, conf, err := Parse(d)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := r.pool.Acquire(ctx); err != nil {
		return fmt.Errorf("waiting for a delegate slot: %w", err)
	}
	defer r.pool.Release()
	start := time.Now()
	err = run(ctx, r.CNI(t), list, conf)
	if r.done != nil {
		r.done(d.Type(), command, time.Since(start), err)
	}
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("deadline of %s exceeded: %w", r.timeout, err)
	}
	return err
}

// Parse turns d into libcni's objects: a list for conflists, a plugin
// config otherwise.
func Parse(d *netconf.Delegate) (*libcni.NetworkConfigList, *libcni.PluginConfig, error) {
	if d.ConfListPlugin {
		list, err := libcni.ConfListFromBytes(d.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		return list, nil, nil
	}
	conf, err := libcni.ConfFromBytes(d.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil, conf, nil
}

// Describe names a delegate for errors and logs:
// "delegate type=macvlan name=ns/net1 ifname=net1".
func Describe(d *netconf.Delegate, rt *libcni.RuntimeConf) string {
	s := fmt.Sprintf("delegate type=%s name=%s", d.Type(), d.Name)
	if rt != nil && rt.IfName != "" {
		s += " ifname=" + rt.IfName
	}
	return s
}
