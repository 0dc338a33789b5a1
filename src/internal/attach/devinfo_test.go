package attach

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

func TestDeviceInfo(t *testing.T) {
	forVersions(t, func(t *testing.T, v string) {
		e := newEnv(t, v, clusterNet, net1)
		build := e.resolver.build
		e.resolver.build = func(pod *corev1.Pod) []*netconf.Delegate {
			ds := build(pod)
			ds[1].DeviceID, ds[1].ResourceName = "0000:03:00.1", "intel.com/sriov"
			return ds
		}
		dp := filepath.Join(e.a.opts.DevInfoDir, "dp", "intel.com-sriov-0000:03:00.1-device.json")
		writeFile(t, dp, `{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:03:00.1"}}`)
		if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err != nil {
			t.Fatal(err)
		}
		want := filepath.Join(e.a.opts.DevInfoDir, "cni", "ns-net-a-c1_net1")
		fi, err := os.Stat(want)
		if err != nil {
			t.Fatalf("device-info not copied: %v", err)
		}
		if fi.Mode().Perm() != 0o444 {
			t.Errorf("device-info mode %v, want 0444", fi.Mode().Perm())
		}
		call, _ := e.exec.find("ADD", "net-a")
		rc, _ := call.Stdin["runtimeConfig"].(map[string]any)
		if rc["deviceID"] != "0000:03:00.1" || rc["CNIDeviceInfoFile"] != want {
			t.Errorf("runtimeConfig = %v, want deviceID and CNIDeviceInfoFile %s", rc, want)
		}
		if master, _ := e.exec.find("ADD", "cluster"); master.Stdin["runtimeConfig"] != nil {
			t.Errorf("master got device capabilities: %v", master.Stdin["runtimeConfig"])
		}
		var found bool
		for _, s := range e.status.current {
			if s.Interface == "net1" && s.DeviceInfo != nil && s.DeviceInfo.Pci != nil && s.DeviceInfo.Pci.PciAddress == "0000:03:00.1" {
				found = true
			}
		}
		if !found {
			t.Errorf("network-status lacks device-info: %+v", e.status.current)
		}
		if err := e.a.Del(context.Background(), e.req("DEL", "c1")); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(want); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("device-info not removed at DEL: %v", err)
		}
	})
}
