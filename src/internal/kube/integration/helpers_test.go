//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	nadclient "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/client/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/kube"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
	"github.com/multus-thick/multus-thick/src/internal/resolve"
)

// daemon is the Kubernetes side as the daemon wires it.
type daemon struct {
	client   *kube.Client
	resolver *resolve.Resolver
	conf     *netconf.NetConf
}

// startDaemon builds and starts a client as the daemon's identity.
func startDaemon(t *testing.T, kubeconfig string, cfg kube.Config) *daemon {
	t.Helper()
	cfg.Kubeconfig = kubeconfig
	if cfg.APITimeout == 0 {
		cfg.APITimeout = 3 * time.Second
	}
	if cfg.PodLookupTimeout == 0 {
		cfg.PodLookupTimeout = time.Second
	}
	if cfg.SyncTimeout == 0 {
		cfg.SyncTimeout = time.Minute
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := kube.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return &daemon{
		client:   c,
		resolver: resolve.New(resolve.Options{NADs: c.NADs(), Events: c.Events(), Logger: log}),
		conf:     clusterConf(t),
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// clusterConf is a Multus config whose cluster network is a file in a
// temp confDir.
func clusterConf(t *testing.T) *netconf.NetConf {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "10-flannel.conf"), []byte(`{"cniVersion":"1.0.0","name":"flannel","type":"flannel"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]any{"cniVersion": "1.0.0", "name": "multus", "type": "multus-shim", "clusterNetwork": "flannel", "confDir": dir})
	conf, err := netconf.Load(raw)
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

// add runs the Kubernetes half of an ADD the way attach does: pod,
// delegates, network-status.
func (d *daemon) add(ctx context.Context, ref attach.PodRef) ([]*netconf.Delegate, error) {
	pod, err := d.client.Pods().GetPod(ctx, ref, attach.OpAdd)
	if err != nil {
		return nil, err
	}
	ds, err := d.resolver.Delegates(ctx, d.conf, pod)
	if err != nil {
		return nil, err
	}
	statuses := make([]nadv1.NetworkStatus, 0, len(ds))
	for i, del := range ds {
		st := nadv1.NetworkStatus{Name: del.Name, Interface: "eth0", Default: del.MasterPlugin, IPs: []string{fmt.Sprintf("10.9.0.%d", i+1)}}
		if i > 0 {
			st.Interface = fmt.Sprintf("net%d", i)
		}
		statuses = append(statuses, st)
	}
	ref.UID = string(pod.UID)
	return ds, d.client.Status().SetNetworkStatus(ctx, ref, statuses)
}

func nadClient(t *testing.T) nadclient.Interface {
	t.Helper()
	c, err := nadclient.NewForConfig(suite.adminREST)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func createNAD(t *testing.T, ns, name, config string) {
	t.Helper()
	nad := &nadv1.NetworkAttachmentDefinition{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       nadv1.NetworkAttachmentDefinitionSpec{Config: config},
	}
	if _, err := nadClient(t).K8sCniCncfIoV1().NetworkAttachmentDefinitions(ns).Create(context.Background(), nad, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// outageProxy forwards TCP to the API server and can be taken down and
// brought back on the same address: to the daemon that is exactly an API
// server that stops and restarts (connections reset, then refused).
type outageProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
}

func newOutageProxy(t *testing.T) *outageProxy {
	u, err := url.Parse(suite.adminREST.Host)
	if err != nil {
		t.Fatal(err)
	}
	p := &outageProxy{t: t, addr: "127.0.0.1:0", target: u.Host, conns: map[net.Conn]struct{}{}}
	p.up()
	t.Cleanup(p.down)
	return p
}

func (p *outageProxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go p.serve(ln)
}

func (p *outageProxy) serve(ln net.Listener) {
	for {
		in, err := ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go func() { _, _ = io.Copy(out, in); out.Close() }()
		go func() { _, _ = io.Copy(in, out); in.Close() }()
	}
}

func (p *outageProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		if err := p.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			p.t.Error(err)
		}
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}
