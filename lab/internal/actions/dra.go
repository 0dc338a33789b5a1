package actions

import (
	"context"
	"fmt"
	"io"

	"github.com/multus-thick/multus-thick/deployments"
	"github.com/multus-thick/multus-thick/lab/internal/kube"
	"github.com/multus-thick/multus-thick/lab/internal/labimages"
)

// The DRA test driver's DaemonSet (deployments/dra/daemonset.yaml).
const (
	draNamespace = "kube-system"
	draName      = "mt-dra-plugin"
)

// upDRA builds the DRA test driver's image from bin/mt-dra-plugin, loads
// it into every node and applies deployments/dra/ (the driver's DaemonSet,
// RBAC and DeviceClass), then waits for the driver on every worker. It is
// a fixture of the DRA scenario, deployed with whatever daemon manifest or
// image the lab runs.
func (e *env) upDRA(ctx context.Context, st *upState) error {
	return e.progress.Do(ctx, "DRA test driver from deployments/"+deployments.DRADir+"/", func(ctx context.Context, log io.Writer) error {
		imgs, err := e.buildImages(st, log, labimages.DRAPluginImage)
		if err != nil {
			return err
		}
		c := e.cluster(io.Discard)
		for _, img := range imgs {
			loaded, err := c.LoadImage(ctx, img)
			if err != nil {
				return err
			}
			fmt.Fprintf(log, "%s: loaded into %v (others had %s)\n", img.Ref, loaded, img.ID)
		}
		client, err := e.clientFor(st)
		if err != nil {
			return err
		}
		objs, err := deployments.OptionalObjects(deployments.DRADir)
		if err != nil {
			return err
		}
		if err := annotateImageID(objs, imgs[0].ID); err != nil {
			return err
		}
		if err := client.Apply(ctx, objs, kube.ApplyOptions{Log: log}); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, rolloutTimeout)
		defer cancel()
		return client.WaitDaemonSet(wctx, draNamespace, draName)
	})
}
