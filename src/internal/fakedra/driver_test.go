package fakedra

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	resourceapi "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/dynamic-resource-allocation/kubeletplugin"
)

func testConfig(t *testing.T) Config {
	dir := t.TempDir()
	return Config{
		Driver: DefaultDriver, Node: "worker-1", ResourceName: DefaultResourceName, Devices: 3,
		DevInfoDir: filepath.Join(dir, "devinfo"), StateDir: filepath.Join(dir, "claims"),
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"driver not a DNS subdomain", func(c *Config) { c.Driver = "Fake_NIC" }, `driver "Fake_NIC"`},
		{"no node", func(c *Config) { c.Node = "" }, `node ""`},
		{"resource name without domain", func(c *Config) { c.ResourceName = "fakenic" }, `resource name "fakenic"`},
		{"resource name with two slashes", func(c *Config) { c.ResourceName = "a/b/c" }, `resource name "a/b/c"`},
		{"no devices", func(c *Config) { c.Devices = 0 }, "devices 0 is not in 1..16"},
		{"too many devices", func(c *Config) { c.Devices = MaxDevices + 1 }, "devices 17"},
		{"no state dir", func(c *Config) { c.StateDir = "" }, "no state directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			tc.change(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestResourcesPublishTheCNIAttributes(t *testing.T) {
	d, err := New(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	res := d.Resources()
	pool, ok := res.Pools["worker-1"]
	if len(res.Pools) != 1 || !ok || len(pool.Slices) != 1 {
		t.Fatalf("pools = %+v, want one pool named after the node with one slice", res.Pools)
	}
	var ids []string
	for _, dev := range pool.Slices[0].Devices {
		id, rn := dev.Attributes[AttrDeviceID].StringValue, dev.Attributes[AttrResourceName].StringValue
		if id == nil || rn == nil || *rn != DefaultResourceName {
			t.Fatalf("device %s attributes = %+v, want both CNI attributes", dev.Name, dev.Attributes)
		}
		ids = append(ids, dev.Name+"="+*id)
	}
	want := []string{"nic0=0000:10:00.0", "nic1=0000:11:00.0", "nic2=0000:12:00.0"}
	if !slices.Equal(ids, want) {
		t.Fatalf("devices = %v, want %v", ids, want)
	}
}

func claim(uid, name string, results ...resourceapi.DeviceRequestAllocationResult) *resourceapi.ResourceClaim {
	c := &resourceapi.ResourceClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(uid)}}
	if results != nil {
		c.Status.Allocation = &resourceapi.AllocationResult{Devices: resourceapi.DeviceAllocationResult{Results: results}}
	}
	return c
}

func result(driver, pool, dev string) resourceapi.DeviceRequestAllocationResult {
	return resourceapi.DeviceRequestAllocationResult{Request: "nic", Driver: driver, Pool: pool, Device: dev}
}

// dpFiles lists the device-info files in <dir>/dp.
func dpFiles(t *testing.T, d *Driver) []string {
	t.Helper()
	entries, err := os.ReadDir(d.dpDir())
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestPrepareWritesDeviceInfoAndUnprepareRemovesIt(t *testing.T) {
	for _, tc := range []struct {
		name      string
		claim     *resourceapi.ResourceClaim
		wantErr   string
		wantFiles []string // device-info files after preparing
		wantDevs  []string // pool/device of the prepared devices
	}{
		{
			name:      "one device",
			claim:     claim("u1", "one", result(DefaultDriver, "worker-1", "nic1")),
			wantFiles: []string{"multus-thick.io-fakenic-0000:11:00.0-device.json"},
			wantDevs:  []string{"worker-1/nic1"},
		},
		{
			name:  "two devices, another driver's device ignored",
			claim: claim("u2", "two", result(DefaultDriver, "worker-1", "nic0"), result("gpu.example.com", "worker-1", "gpu0"), result(DefaultDriver, "worker-1", "nic2")),
			wantFiles: []string{
				"multus-thick.io-fakenic-0000:10:00.0-device.json",
				"multus-thick.io-fakenic-0000:12:00.0-device.json",
			},
			wantDevs: []string{"worker-1/nic0", "worker-1/nic2"},
		},
		{name: "not allocated", claim: claim("u3", "pending"), wantErr: "resourceclaim ns/pending is not allocated"},
		{
			name:    "device of another node, nothing written",
			claim:   claim("u4", "elsewhere", result(DefaultDriver, "worker-1", "nic0"), result(DefaultDriver, "worker-2", "nic1")),
			wantErr: "resourceclaim ns/elsewhere: allocated device fakenic.multus-thick.io/worker-2/nic1 is not one of node worker-1's",
		},
		{
			name:    "unknown device",
			claim:   claim("u5", "ghost", result(DefaultDriver, "worker-1", "nic9")),
			wantErr: "allocated device fakenic.multus-thick.io/worker-1/nic9 is not one of node worker-1's (pool worker-1, 3 devices)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := New(testConfig(t))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			got, err := d.PrepareResourceClaims(ctx, []*resourceapi.ResourceClaim{tc.claim})
			if err != nil {
				t.Fatal(err)
			}
			res, ok := got[tc.claim.UID]
			if len(got) != 1 || !ok {
				t.Fatalf("results = %v, want exactly one for %s", got, tc.claim.UID)
			}
			if tc.wantErr != "" {
				if res.Err == nil || !strings.Contains(res.Err.Error(), tc.wantErr) {
					t.Fatalf("prepare error = %v, want %q", res.Err, tc.wantErr)
				}
				if f := dpFiles(t, d); len(f) != 0 {
					t.Fatalf("a failed preparation left %v", f)
				}
				return
			}
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			var devs []string
			for _, dev := range res.Devices {
				devs = append(devs, dev.PoolName+"/"+dev.DeviceName)
				if !slices.Equal(dev.Requests, []string{"nic"}) {
					t.Errorf("device %s requests = %v, want [nic]", dev.DeviceName, dev.Requests)
				}
			}
			if !slices.Equal(devs, tc.wantDevs) {
				t.Errorf("prepared devices = %v, want %v", devs, tc.wantDevs)
			}
			files := dpFiles(t, d)
			if !slices.Equal(files, tc.wantFiles) {
				t.Fatalf("device-info files = %v, want %v", files, tc.wantFiles)
			}
			for _, f := range files {
				checkDevInfo(t, filepath.Join(d.dpDir(), f))
			}
			// Preparing again (a kubelet restart) changes nothing.
			if again, _ := d.PrepareResourceClaims(ctx, []*resourceapi.ResourceClaim{tc.claim}); again[tc.claim.UID].Err != nil {
				t.Fatalf("second prepare: %v", again[tc.claim.UID].Err)
			}
			obj := kubeletplugin.NamespacedObject{UID: tc.claim.UID}
			obj.Namespace, obj.Name = tc.claim.Namespace, tc.claim.Name
			for i := range 2 { // the second call finds nothing to do
				un, err := d.UnprepareResourceClaims(ctx, []kubeletplugin.NamespacedObject{obj})
				if err != nil || un[tc.claim.UID] != nil || len(un) != 1 {
					t.Fatalf("unprepare #%d = %v, %v", i+1, un, err)
				}
			}
			if f := dpFiles(t, d); len(f) != 0 {
				t.Fatalf("unprepare left %v", f)
			}
			if recs, _ := os.ReadDir(d.cfg.StateDir); len(recs) != 0 {
				t.Fatalf("unprepare left claim records %v", recs)
			}
		})
	}
}

// checkDevInfo reads a device-info file as the daemon does and checks it
// names the PCI address in its file name.
func checkDevInfo(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var info nadv1.DeviceInfo
	if err := json.Unmarshal(data, &info); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if info.Type != "pci" || info.Version != "1.1.0" || info.Pci == nil || !strings.Contains(filepath.Base(path), "-"+info.Pci.PciAddress+"-") {
		t.Fatalf("%s = %s, want a pci device-info naming its device", path, data)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o444 {
		t.Fatalf("%s mode = %v (%v), want 0444", path, fi.Mode(), err)
	}
}

func TestUnprepareRefusesRecordOutsideDevInfo(t *testing.T) {
	d, err := New(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "keep")
	if err := os.WriteFile(victim, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.writeRecord("u1", record{Claim: "ns/c", Files: []string{filepath.Join(d.dpDir(), "..", "..", "keep")}}); err != nil {
		t.Fatal(err)
	}
	if err := d.writeRecord("u2", record{Claim: "ns/c", Files: []string{victim}}); err != nil {
		t.Fatal(err)
	}
	for _, uid := range []types.UID{"u1", "u2"} {
		if err := d.unprepare(uid); err == nil || !strings.Contains(err.Error(), "outside") {
			t.Errorf("unprepare %s: %v, want a refusal", uid, err)
		}
	}
	if _, err := os.Stat(victim); err != nil {
		t.Fatalf("the file outside was removed: %v", err)
	}
	if err := d.unprepare("../x"); err == nil {
		t.Fatal("a UID with a path separator was accepted")
	}
}
