package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	nadclient "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/multus-thick/multus-thick/src/api"
)

// Assets are the control-plane binaries envtest runs.
type Assets struct {
	APIServer, Etcd, Kubectl string
}

// ResolveAssets finds kube-apiserver, etcd and kubectl: first in each of dirs
// (KUBEBUILDER_ASSETS-style folders, in order), then on PATH.
func ResolveAssets(dirs []string) (Assets, error) {
	find := func(name string) (string, error) {
		for _, d := range dirs {
			if d == "" {
				continue
			}
			p := filepath.Join(d, name)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				return p, nil
			}
		}
		p, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("%s not found in %v nor on PATH", name, dirs)
		}
		return p, nil
	}
	var a Assets
	var errs []error
	var err error
	if a.APIServer, err = find("kube-apiserver"); err != nil {
		errs = append(errs, err)
	}
	if a.Etcd, err = find("etcd"); err != nil {
		errs = append(errs, err)
	}
	if a.Kubectl, err = find("kubectl"); err != nil {
		errs = append(errs, err)
	}
	return a, errors.Join(errs...)
}

// cluster is envtest's kube-apiserver + etcd with the NAD CRD installed.
type cluster struct {
	env            *envtest.Environment
	core           kubernetes.Interface
	nads           nadclient.Interface
	kubeconfigPath string
	// host and caData are the API server's URL and CA, for a daemon that
	// reads in-cluster credentials.
	host   string
	caData []byte
}

func startCluster(assets Assets, dir string) (*cluster, error) {
	env := &envtest.Environment{
		CRDs:                     []*apiextv1.CustomResourceDefinition{nadCRD()},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	env.ControlPlane.GetAPIServer().Path = assets.APIServer
	env.ControlPlane.Etcd = &envtest.Etcd{Path: assets.Etcd}
	env.ControlPlane.KubectlPath = assets.Kubectl
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start envtest: %w", err)
	}
	c := &cluster{env: env, host: cfg.Host, caData: cfg.CAData}
	// The harness creates thousands of objects; client-go's default 5 QPS
	// would make that take minutes.
	cfg.QPS, cfg.Burst = 2000, 2000
	if c.core, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, errors.Join(err, c.stop())
	}
	if c.nads, err = nadclient.NewForConfig(cfg); err != nil {
		return nil, errors.Join(err, c.stop())
	}
	c.kubeconfigPath = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(c.kubeconfigPath, env.KubeConfig, 0o600); err != nil {
		return nil, errors.Join(err, c.stop())
	}
	return c, nil
}

func (c *cluster) stop() error {
	if c == nil || c.env == nil {
		return nil
	}
	return c.env.Stop()
}

func (c *cluster) ensureNamespace(ctx context.Context, name string) error {
	_, err := c.core.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

func (c *cluster) createNAD(ctx context.Context, ns, name, config string) error {
	nad := &nadv1.NetworkAttachmentDefinition{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       nadv1.NetworkAttachmentDefinitionSpec{Config: config},
	}
	if _, err := c.nads.K8sCniCncfIoV1().NetworkAttachmentDefinitions(ns).Create(ctx, nad, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create NAD %s/%s: %w", ns, name, err)
	}
	return nil
}

// benchPod is a pod object bound to a node by spec.nodeName: no scheduler
// and no kubelet run, so it stays Pending, which is all the daemon needs.
func benchPod(ns, name, node, networks string) *corev1.Pod {
	noToken := false
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns,
			Name:      name,
			Labels:    map[string]string{"app": "mt-bench"},
		},
		Spec: corev1.PodSpec{
			NodeName:                     node,
			AutomountServiceAccountToken: &noToken,
			Containers: []corev1.Container{{
				Name:  "pause",
				Image: "registry.invalid/pause:never-pulled",
			}},
		},
	}
	if networks != "" {
		p.Annotations = map[string]string{api.NetworksAnnotation: networks}
	}
	return p
}

// createPods creates pods with at most workers requests in flight and
// returns their UIDs by name.
func (c *cluster) createPods(ctx context.Context, pods []*corev1.Pod, workers int) (map[string]types.UID, error) {
	uids := make(map[string]types.UID, len(pods))
	var mu sync.Mutex
	err := forEachBounded(ctx, len(pods), workers, func(ctx context.Context, i int) error {
		p := pods[i]
		got, err := c.core.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		mu.Lock()
		uids[p.Name] = got.UID
		mu.Unlock()
		return nil
	})
	return uids, err
}

// forEachBounded calls fn(0..n-1) with at most workers calls at once and
// stops at the first error.
func forEachBounded(ctx context.Context, n, workers int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, min(workers, n)) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// nadCRD is the NetworkAttachmentDefinition CRD (k8s.cni.cncf.io/v1), written
// here so the harness needs no fixture from another package.
func nadCRD() *apiextv1.CustomResourceDefinition {
	preserve := true
	return &apiextv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "network-attachment-definitions.k8s.cni.cncf.io"},
		Spec: apiextv1.CustomResourceDefinitionSpec{
			Group: "k8s.cni.cncf.io",
			Scope: apiextv1.NamespaceScoped,
			Names: apiextv1.CustomResourceDefinitionNames{
				Plural:     "network-attachment-definitions",
				Singular:   "network-attachment-definition",
				Kind:       "NetworkAttachmentDefinition",
				ListKind:   "NetworkAttachmentDefinitionList",
				ShortNames: []string{"net-attach-def"},
			},
			Versions: []apiextv1.CustomResourceDefinitionVersion{{
				Name:    "v1",
				Served:  true,
				Storage: true,
				Schema: &apiextv1.CustomResourceValidation{OpenAPIV3Schema: &apiextv1.JSONSchemaProps{
					Type: "object",
					Properties: map[string]apiextv1.JSONSchemaProps{
						"apiVersion": {Type: "string"},
						"kind":       {Type: "string"},
						"metadata":   {Type: "object"},
						"spec": {
							Type: "object",
							Properties: map[string]apiextv1.JSONSchemaProps{
								"config": {Type: "string"},
							},
							XPreserveUnknownFields: &preserve,
						},
					},
				}},
			}},
		},
	}
}
