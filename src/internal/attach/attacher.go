package attach

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"

	"github.com/multus-thick/multus-thick/src/internal/delegate"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// DefaultDevInfoDir is where device plugins and CNI plugins exchange
// device-info files.
const DefaultDevInfoDir = "/var/run/k8s.cni.cncf.io/devinfo"

// Request is one CNI invocation, as the server parsed it.
type Request struct {
	Command     string // "ADD","DEL","CHECK","GC","STATUS"
	ContainerID string
	Netns       string
	IfName      string // the server defaults it to eth0
	// CNIArgs is the raw CNI_ARGS from the runtime (values may contain '=').
	CNIArgs string
	Pod     PodRef // zero for GC/STATUS
	// Config is the effective config: the runtime's stdin with the
	// daemon-config keys merged (the server merges).
	Config []byte
	// Logger is request-scoped (command, container, pod, ifname); never nil.
	Logger *slog.Logger
}

// Options configure an Attacher.
type Options struct {
	Pods     PodSource    // nil: no Kubernetes; run with pod == nil (delegates from config only)
	Resolver Resolver     // required
	Status   StatusWriter // nil: no annotation written
	Events   Events       // nil: no events
	// Exec runs the delegates; nil means delegate.NewExec(). The
	// composition root passes delegate.NewChrootExec(chrootDir) when
	// chrootDir is set.
	Exec invoke.Exec
	// DelegateTimeout is the deadline of each delegate call (0: 2m).
	DelegateTimeout time.Duration
	// MaxConcurrentDelegates bounds concurrent delegate executions (0: 16).
	MaxConcurrentDelegates int
	Observer               Observer // nil ok: metrics hooks
	DevInfoDir             string   // default DefaultDevInfoDir
	// BinDir and CNIDir serve /delegate requests, whose config is a
	// delegate config without Multus keys (defaults from netconf).
	BinDir string
	CNIDir string
	// CNIPath is the daemon's CNI_PATH, split; searched after binDir.
	CNIPath []string
	// OnPendingDelete is told when a DEL (or a rollback's DEL) failed and
	// its record was kept for the background retry; nil ok.
	OnPendingDelete func(containerID string)
	// Now is the clock of the pending-delete records; nil: time.Now.
	Now func() time.Time
}

// Observer receives metrics hooks.
type Observer interface {
	DelegateDone(delegateType, command string, d time.Duration, err error)
	CorruptCache(containerID string)
}

// Attacher runs CNI invocations. It is safe for concurrent use; requests
// for the same container ID are serialized.
type Attacher struct {
	opts   Options
	runner *delegate.Runner
	locks  keyedMutex
	// net does the daemon's own work inside the pod's netns; tests fake it.
	net netOps
}

// New validates opts and builds an Attacher.
func New(opts Options) (*Attacher, error) {
	if opts.Resolver == nil {
		return nil, errors.New("attach: a Resolver is required")
	}
	if opts.DevInfoDir == "" {
		opts.DevInfoDir = DefaultDevInfoDir
	}
	if opts.BinDir == "" {
		opts.BinDir = netconf.DefaultBinDir
	}
	if opts.CNIDir == "" {
		opts.CNIDir = netconf.DefaultCNIDir
	}
	cfg := delegate.Config{
		Exec:          opts.Exec,
		ExtraPaths:    opts.CNIPath,
		Timeout:       opts.DelegateTimeout,
		MaxConcurrent: opts.MaxConcurrentDelegates,
	}
	if obs := opts.Observer; obs != nil {
		cfg.Done = obs.DelegateDone
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Attacher{opts: opts, runner: delegate.NewRunner(cfg), net: kernelNet{}}, nil
}

// lock serializes requests for one container ID, across /cni and
// /delegate, so that an ADD and a DEL of the same sandbox never interleave
// their cache and delegate work.
func (a *Attacher) lock(ctx context.Context, containerID string) (func(), error) {
	return a.locks.lock(ctx, containerID)
}

func (a *Attacher) now() time.Time { return a.opts.Now() }

// cleanupContext is used for rollback and cleanup: they must run even when
// the request's context was cancelled (the client went away), each delegate
// call still bounded by its own deadline.
func cleanupContext(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
