package deviceid

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	podresources "k8s.io/kubelet/pkg/apis/podresources/v1"
)

// kubeletStub is a pod-resources server with canned List answers.
type kubeletStub struct {
	podresources.UnimplementedPodResourcesListerServer
	resp *podresources.ListPodResourcesResponse
}

// List answers resp; without one it hangs until the caller gives up.
func (k *kubeletStub) List(ctx context.Context, _ *podresources.ListPodResourcesRequest) (*podresources.ListPodResourcesResponse, error) {
	if k.resp == nil {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return k.resp, nil
}

// serveKubelet starts a real gRPC server on a unix socket in a short temp
// dir and returns the socket path.
func serveKubelet(t *testing.T, resp *podresources.ListPodResourcesResponse) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "kubelet.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	podresources.RegisterPodResourcesListerServer(srv, &kubeletStub{resp: resp})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return sock
}

func devPod() *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "uid-1"}}
}

func TestDeviceIDsFromKubelet(t *testing.T) {
	dev := func(res string, ids ...string) *podresources.ContainerDevices {
		return &podresources.ContainerDevices{ResourceName: res, DeviceIds: ids}
	}
	sock := serveKubelet(t, &podresources.ListPodResourcesResponse{PodResources: []*podresources.PodResources{
		{Name: "p", Namespace: "other", Containers: []*podresources.ContainerResources{{Name: "c", Devices: []*podresources.ContainerDevices{dev("r/a", "x")}}}},
		{Name: "p", Namespace: "ns", Containers: []*podresources.ContainerResources{
			{Name: "c1", Devices: []*podresources.ContainerDevices{dev("r/a", "0000:01:00.3", "0000:01:00.1")}},
			{Name: "c2", Devices: []*podresources.ContainerDevices{dev("r/a", "0000:01:00.2"), dev("r/b", "b1")}},
		}},
	}})
	got, err := New(Config{PodResourcesSocket: sock, CheckpointFile: "/nonexistent"}).DeviceIDs(context.Background(), devPod())
	if err != nil {
		t.Fatal(err)
	}
	if want := "map[r/a:[0000:01:00.1 0000:01:00.2 0000:01:00.3] r/b:[b1]]"; fmt.Sprint(got) != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func TestDeviceIDsFromCheckpoint(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{name: "NUMA map form", want: "map[r/a:[d1 d2]]",
			data: `{"Data":{"PodDeviceEntries":[{"PodUID":"uid-1","ContainerName":"c","ResourceName":"r/a","DeviceIDs":{"0":["d2"],"1":["d1"]}},
				{"PodUID":"uid-2","ContainerName":"c","ResourceName":"r/a","DeviceIDs":{"0":["other"]}}],"RegisteredDevices":{}},"Checksum":1}`},
		{name: "old list form", want: "map[r/b:[e1 e2]]",
			data: `{"Data":{"PodDeviceEntries":[{"PodUID":"uid-1","ContainerName":"c","ResourceName":"r/b","DeviceIDs":["e2","e1"]}]}}`},
		{name: "no file", want: "map[]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kubelet_internal_checkpoint")
			if tc.data != "" {
				if err := os.WriteFile(path, []byte(tc.data), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := New(Config{PodResourcesSocket: "/nonexistent.sock", CheckpointFile: path}).DeviceIDs(context.Background(), devPod())
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != tc.want {
				t.Errorf("got %v, want %s", got, tc.want)
			}
		})
	}
}
