package actions

import (
	"context"
	"time"

	"github.com/multus-thick/multus-thick/lab/internal/bake"
	"github.com/multus-thick/multus-thick/lab/internal/cluster"
	"github.com/multus-thick/multus-thick/lab/internal/kube"
)

// Deadlines of the waits; generous for a 2-core machine under load.
const (
	nodesReadyTimeout = 5 * time.Minute
	rolloutTimeout    = 5 * time.Minute
)

// upState is what the actions of up, load and deploy hand to each other.
type upState struct {
	s         labSettings
	bakeOpts  bake.Options
	nodeImage string
	flanneld  string
	plugins   []cluster.File
	images    []cluster.Image
	// daemonImageErr says why the daemon image could not be built; the
	// daemon step reports it.
	daemonImageErr error
	// daemonOverride is LAB_DAEMON_IMAGE's tag once loaded (daemonimage.go).
	daemonOverride string
	client         *kube.Client
	manifest       daemonManifest // LAB_MANIFEST
}

// action is one named step of a command, run over the state the actions before it filled.
// Every action is idempotent, so a command run again repairs what is missing; the progress
// lines come from the steps inside it (lab/internal/step). run is a method of env.
type action struct {
	name string
	run  func(e *env, ctx context.Context, st *upState) error
}

// The actions; each lives in the file its comment names.
var (
	hostAction      = action{"host: docker engine, egress guard", (*env).upHost}                         // host.go
	nodeImageAction = action{"node image", (*env).upNodeImage}                                           // bake.go
	artifactsAction = action{"artifacts: our binaries, the plugins, the lab images", (*env).upArtifacts} // artifacts.go
	clusterAction   = action{"kind cluster, CoreDNS without upstream", (*env).upCluster}                 // nodes.go
	loadAction      = action{"images and plugins into the nodes", (*env).upLoad}                         // nodes.go
	networkAction   = action{"cluster network: flannel, nodes ready", (*env).upNetwork}                  // nodes.go
	daemonAction    = action{"multus daemon applied and rolled out", (*env).upDaemon}                    // daemon.go
	nadsAction      = action{"lab NADs", (*env).upNADs}                                                  // daemon.go
	draAction       = action{"DRA test driver applied and rolled out", (*env).upDRA}                     // dra.go
)

var (
	// upActions bring the lab up, or repair it (make lab-up).
	upActions = []action{hostAction, nodeImageAction, artifactsAction, clusterAction, loadAction, networkAction, daemonAction, draAction, nadsAction}
	// loadActions rebuild our binaries and images and load them into the running cluster
	// (make lab-load).
	loadActions = []action{artifactsAction, loadAction}
	// deployActions are load, then the daemon and the DRA test driver applied and rolled
	// out (make lab-deploy).
	deployActions = []action{artifactsAction, loadAction, daemonAction, draAction}
)

// runActions runs actions in order and stops at the first that fails; that error names
// its step and log already.
func (e *env) runActions(ctx context.Context, st *upState, actions []action) error {
	for _, a := range actions {
		e.log.Debug("action", "name", a.name)
		if err := a.run(e, ctx, st); err != nil {
			return err
		}
	}
	return nil
}

// runUp brings the lab up, or repairs it: every step is idempotent.
func runUp(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	start := time.Now()
	st, err := e.newUpState()
	if err != nil {
		return err
	}
	if err := e.runActions(ctx, st, upActions); err != nil {
		return err
	}
	e.progress.Note("lab %s up in %s; export KUBECONFIG=%s", st.s.name, time.Since(start).Round(time.Second), st.s.kubeconfig)
	return nil
}

// runLoad rebuilds our binaries and images and loads them into the running
// cluster (no deploy): for iterating on the daemon.
func runLoad(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	st, err := e.newUpState()
	if err != nil {
		return err
	}
	if err := e.runActions(ctx, st, loadActions); err != nil {
		return err
	}
	return st.daemonImageErr
}

// runDeploy is load, then apply deployments/ and wait for the rollout.
func runDeploy(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	st, err := e.newUpState()
	if err != nil {
		return err
	}
	return e.runActions(ctx, st, deployActions)
}

func (e *env) newUpState() (*upState, error) {
	o, err := e.bakeOptions()
	if err != nil {
		return nil, err
	}
	m, err := e.daemonManifest()
	if err != nil {
		return nil, err
	}
	return &upState{s: e.lab(), bakeOpts: o, manifest: m}, nil
}
