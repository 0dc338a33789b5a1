package kube

import (
	"context"
	"fmt"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multus-thick/multus-thick/src/internal/resolve"
)

// NAD retry backoff: first retry soon (the usual lag is the informer's
// few milliseconds), then at most once a second against the API.
const (
	nadRetryFirst = 100 * time.Millisecond
	nadRetryMax   = time.Second
)

type nadSource struct{ c *Client }

var (
	_ resolve.NADGetter = nadSource{}
	_ resolve.NADProber = nadSource{}
)

// GetNAD implements resolve.NADGetter: cache, live GET, and then, because
// a NAD applied together with its pod may not have arrived yet, retries
// until NADRetryTimeout (upstream fails at once).
func (n nadSource) GetNAD(ctx context.Context, namespace, name string) (*nadv1.NetworkAttachmentDefinition, error) {
	retryCtx, cancel := context.WithTimeout(ctx, n.c.cfg.NADRetryTimeout)
	defer cancel()
	delay := nadRetryFirst
	for {
		if nad, ok := cached[*nadv1.NetworkAttachmentDefinition](n.c.nadInformer, namespace, name); ok {
			return nad.DeepCopy(), nil
		}
		nad, err := n.get(retryCtx, namespace, name)
		if err == nil {
			return nad, nil
		}
		select {
		case <-retryCtx.Done():
			return nil, fmt.Errorf("after retrying for %s: %w", n.c.cfg.NADRetryTimeout, err)
		case <-time.After(delay):
		}
		delay = min(2*delay, nadRetryMax)
	}
}

// ProbeNAD implements resolve.NADProber: the cache only, once it has
// synced (as upstream: a file-configured cluster network must not cost a
// live GET on every ADD, nor fail while the API is down); one live GET
// before that.
func (n nadSource) ProbeNAD(ctx context.Context, namespace, name string) (*nadv1.NetworkAttachmentDefinition, error) {
	if nad, ok := cached[*nadv1.NetworkAttachmentDefinition](n.c.nadInformer, namespace, name); ok {
		return nad.DeepCopy(), nil
	}
	if n.c.nadInformer.HasSynced() {
		return nil, fmt.Errorf("%w: %s/%s", resolve.ErrNADNotFound, namespace, name)
	}
	return n.get(ctx, namespace, name)
}

// get is one live GET bounded by APITimeout.
func (n nadSource) get(ctx context.Context, namespace, name string) (*nadv1.NetworkAttachmentDefinition, error) {
	getCtx, cancel := context.WithTimeout(ctx, n.c.cfg.APITimeout)
	defer cancel()
	nad, err := n.c.nads.NetworkAttachmentDefinitions(namespace).Get(getCtx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("%w: %w", resolve.ErrNADNotFound, err)
	case err != nil:
		return nil, fmt.Errorf("get network-attachment-definition: %w", err)
	}
	return nad, nil
}
