package actions

import (
	"context"
	"fmt"
	"io"

	"github.com/multus-thick/multus-thick/lab/internal/k8sbins"
	"github.com/multus-thick/multus-thick/lab/internal/pins"
)

// k8sVersion is the pinned Kubernetes version; K8S_VERSION overrides it.
func (e *env) k8sVersion() string { return get(e.vars, "K8S_VERSION", pins.K8s) }

func runK8sBins(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	var bin string
	err := e.progress.Do(ctx, "kubernetes "+e.k8sVersion()+" binaries", func(ctx context.Context, log io.Writer) error {
		var err error
		bin, err = k8sbins.EnsureK8sBins(ctx, k8sbins.Options{Version: e.k8sVersion(), CacheDir: e.cache, Log: log})
		return err
	})
	if err == nil {
		fmt.Fprintln(e.stdout, bin)
	}
	return err
}
