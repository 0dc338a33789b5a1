package fakedra

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	drapb "k8s.io/kubelet/pkg/apis/dra/v1"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// The command speaks the kubelet's protocol: it registers on the
// registration socket, publishes its devices as a ResourceSlice of the
// node, and a NodePrepareResources call over the DRA socket writes the
// device-info file, NodeUnprepareResources removes it.
func TestServeSpeaksTheKubeletProtocol(t *testing.T) {
	// Short socket paths: unix sockets are limited to 108 bytes.
	root, err := os.MkdirTemp("", "mtdra")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker-1", UID: "node-uid"}}
	claim := claim("11111111-2222-3333-4444-555555555555", "nic", result(DefaultDriver, "worker-1", "nic1"))
	client := fake.NewClientset(node, claim)
	var logs bytes.Buffer
	o := Options{
		Config: Config{
			Driver: DefaultDriver, Node: "worker-1", ResourceName: DefaultResourceName, Devices: 2,
			DevInfoDir: filepath.Join(root, "devinfo"),
		},
		PluginDir: filepath.Join(root, "p"), RegistryDir: filepath.Join(root, "r"),
	}
	o.Logger = newTestLogger(&logs)
	if err := os.Mkdir(o.RegistryDir, 0o750); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	serveCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Serve(serveCtx, o, client) }()

	reg := dial(ctx, t, done, filepath.Join(o.RegistryDir, DefaultDriver+"-reg.sock"))
	info, err := registerapi.NewRegistrationClient(reg).GetInfo(ctx, &registerapi.InfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != registerapi.DRAPlugin || info.Name != DefaultDriver || info.Endpoint != filepath.Join(o.PluginDir, "dra.sock") {
		t.Fatalf("registration info = %+v", info)
	}

	slice := waitSlice(ctx, t, client)
	if slice.Spec.NodeName == nil || *slice.Spec.NodeName != "worker-1" || len(slice.Spec.Devices) != 2 || slice.Spec.Pool.Name != "worker-1" {
		t.Fatalf("published slice = %+v, want the node's 2 devices in pool worker-1", slice.Spec)
	}

	dra := drapb.NewDRAPluginClient(dial(ctx, t, done, info.Endpoint))
	req := &drapb.Claim{Namespace: claim.Namespace, Name: claim.Name, Uid: string(claim.UID)}
	resp, err := dra.NodePrepareResources(ctx, &drapb.NodePrepareResourcesRequest{Claims: []*drapb.Claim{req}})
	if err != nil {
		t.Fatal(err)
	}
	got := resp.Claims[req.Uid]
	if got == nil || got.Error != "" || len(got.Devices) != 1 || got.Devices[0].DeviceName != "nic1" {
		t.Fatalf("prepare response = %v", resp.Claims)
	}
	devInfo := filepath.Join(o.DevInfoDir, "dp", "multus-thick.io-fakenic-0000:11:00.0-device.json")
	checkDevInfo(t, devInfo)

	if _, err := dra.NodeUnprepareResources(ctx, &drapb.NodeUnprepareResourcesRequest{Claims: []*drapb.Claim{req}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(devInfo); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("device-info after unprepare: %v, want it gone", err)
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Serve did not return after its context ended")
	}
	if !strings.Contains(logs.String(), "claim prepared") {
		t.Errorf("logs lack the preparation:\n%s", logs.String())
	}
}

func dial(ctx context.Context, t *testing.T, served <-chan error, sock string) *grpc.ClientConn {
	t.Helper()
	// The socket appears once Serve has started its servers.
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("socket %s never appeared", sock)
		case err := <-served:
			t.Fatalf("Serve returned before %s appeared: %v", sock, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func waitSlice(ctx context.Context, t *testing.T, client *fake.Clientset) *resourceapi.ResourceSlice {
	t.Helper()
	for {
		list, err := client.ResourceV1().ResourceSlices().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) > 0 {
			return &list.Items[0]
		}
		select {
		case <-ctx.Done():
			t.Fatal("no ResourceSlice was published")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestMainBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-nope"}, "flag provided but not defined: -nope"},
		{"stray argument", []string{"extra"}, `unexpected arguments ["extra"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := Main(context.Background(), tc.args, func(string) string { return "" }, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tc.want)
			}
		})
	}
}

func TestServeRejectsBadConfigBeforeStarting(t *testing.T) {
	root := t.TempDir()
	o := Options{Config: Config{Driver: DefaultDriver, Node: "", ResourceName: DefaultResourceName, Devices: 2}, PluginDir: root, RegistryDir: root}
	err := Serve(context.Background(), o, fake.NewClientset())
	if err == nil || !strings.Contains(err.Error(), `node ""`) {
		t.Fatalf("Serve = %v, want the missing node named", err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Fatalf("a refused start left %v", entries)
	}
	o.Node = "worker-1"
	o.RegistryDir = filepath.Join(root, "missing")
	err = Serve(context.Background(), o, fake.NewClientset())
	if err == nil || !strings.Contains(err.Error(), "kubelet plugin registry "+o.RegistryDir) {
		t.Fatalf("Serve = %v, want the missing registry named", err)
	}
}

func newTestLogger(w *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}
