package attach

import (
	"context"
	"fmt"
)

// Check runs CHECK on every delegate the container was attached to, from
// the delegate cache (upstream checks nothing in clusterNetwork mode).
// Delegates whose config predates CHECK (cniVersion < 0.4.0) are skipped.
func (a *Attacher) Check(ctx context.Context, req *Request) error {
	b, err := a.begin(ctx, req, multusConfig)
	if err != nil {
		return err
	}
	defer b.end()
	conf := b.conf
	path := scratchPath(conf.CNIDir, req.ContainerID)
	ds, state, err := readScratch(path)
	switch state {
	case scratchMissing:
		if err != nil {
			return err
		}
		return fmt.Errorf("container %s has no delegate cache at %s: it was not added by this node's daemon", req.ContainerID, path)
	case scratchCorrupt:
		if a.opts.Observer != nil {
			a.opts.Observer.CorruptCache(req.ContainerID)
		}
		return fmt.Errorf("container %s: corrupt delegate cache %s: %w", req.ContainerID, path, err)
	}
	for _, d := range ds {
		if err := d.SetCNIVersionIfMissing(conf.CNIVersion); err != nil {
			return fmt.Errorf("%w: delegate cache %s: %w", ErrInvalidConfig, path, err)
		}
	}
	atts, err := a.prepare(b.rt, ds)
	if err != nil {
		return err
	}
	for _, at := range atts {
		if !atLeast(at.d.CNIVersion(), "0.4.0") {
			req.Logger.Debug("skipping CHECK: delegate predates CNI 0.4.0", "delegate", at.String(), "cniVersion", at.d.CNIVersion())
			continue
		}
		if err := a.runner.Check(ctx, target(conf), at.d, at.rt); err != nil {
			return err
		}
	}
	return nil
}

// Status runs STATUS on the cluster network (§4.16); skipped below CNI
// 1.1.0. The delegate's CNI error (for example code 50, "plugin not
// available") is kept in the chain.
func (a *Attacher) Status(ctx context.Context, req *Request) error {
	conf, err := loadConf(req.Config)
	if err != nil {
		return err
	}
	if !atLeast(conf.CNIVersion, "1.1.0") {
		return nil
	}
	cluster, err := a.opts.Resolver.ClusterNetwork(ctx, conf)
	if err != nil {
		return fmt.Errorf("resolve cluster network: %w", err)
	}
	return a.runner.Status(ctx, target(conf), cluster)
}
