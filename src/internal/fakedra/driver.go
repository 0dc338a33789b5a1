package fakedra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/dynamic-resource-allocation/kubeletplugin"
	"k8s.io/dynamic-resource-allocation/resourceslice"
	"k8s.io/utils/ptr"
)

// The attributes multus reads from a DRA device (§4.6). They are spelled
// out here rather than imported from the daemon's deviceid package, so
// that the lab checks the daemon against the names upstream uses instead
// of against itself.
const (
	AttrDeviceID     resourceapi.QualifiedName = "k8s.cni.cncf.io/deviceID"
	AttrResourceName resourceapi.QualifiedName = "k8s.cni.cncf.io/resourceName"
)

// Defaults of the lab's driver (deployments/dra/).
const (
	DefaultDriver       = "fakenic.multus-thick.io"
	DefaultResourceName = "multus-thick.io/fakenic"
	DefaultDevices      = 4
	// DefaultDevInfoDir is where device plugins and CNI plugins exchange
	// device-info files (the daemon's attach.DefaultDevInfoDir).
	DefaultDevInfoDir = "/var/run/k8s.cni.cncf.io/devinfo"
	// MaxDevices bounds Config.Devices: the fake PCI addresses use one bus
	// number each from 0x10.
	MaxDevices = 16
)

// Config says what the driver publishes and where it writes.
type Config struct {
	Driver       string // DRA driver name (a DNS subdomain)
	Node         string // the node whose devices these are; also the pool name
	ResourceName string // the k8s.cni.cncf.io/resourceName every device carries
	Devices      int    // how many devices, 1..MaxDevices
	DevInfoDir   string // device-info files go to <DevInfoDir>/dp/
	// StateDir keeps one record per prepared claim: the files its
	// preparation wrote, which unpreparing removes (the kubelet passes only
	// the claim's UID then, and the claim may be gone).
	StateDir string
	Logger   *slog.Logger
}

// Driver implements kubeletplugin.DRAPlugin for the fake devices.
type Driver struct {
	cfg     Config
	devices []device
	byName  map[string]device
	// fatal is called with an error the helper cannot recover from (the
	// command stops); nil: only logged.
	fatal func(error)
}

var _ kubeletplugin.DRAPlugin = (*Driver)(nil)

// device is one fake device: its name in the pool and its ID.
type device struct {
	name, id string
}

// New checks cfg and returns the driver; bad fields are errors naming them.
func New(cfg Config) (*Driver, error) {
	if cfg.DevInfoDir == "" {
		cfg.DevInfoDir = DefaultDevInfoDir
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var problems []string
	if errs := validation.IsDNS1123Subdomain(cfg.Driver); len(errs) > 0 {
		problems = append(problems, fmt.Sprintf("driver %q: %s", cfg.Driver, strings.Join(errs, ", ")))
	}
	if errs := validation.IsDNS1123Subdomain(cfg.Node); len(errs) > 0 {
		problems = append(problems, fmt.Sprintf("node %q: %s", cfg.Node, strings.Join(errs, ", ")))
	}
	// A resource name is <domain>/<name>, as device plugins spell them.
	if d, n, ok := strings.Cut(cfg.ResourceName, "/"); !ok || d == "" || n == "" || strings.Contains(n, "/") {
		problems = append(problems, fmt.Sprintf("resource name %q is not <domain>/<name>", cfg.ResourceName))
	}
	if cfg.Devices < 1 || cfg.Devices > MaxDevices {
		problems = append(problems, fmt.Sprintf("devices %d is not in 1..%d", cfg.Devices, MaxDevices))
	}
	if cfg.StateDir == "" {
		problems = append(problems, "no state directory")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("fake DRA driver: %s", strings.Join(problems, "; "))
	}
	d := &Driver{cfg: cfg, byName: map[string]device{}}
	for i := range cfg.Devices {
		dev := device{name: fmt.Sprintf("nic%d", i), id: fmt.Sprintf("0000:%02x:00.0", 0x10+i)}
		d.devices = append(d.devices, dev)
		d.byName[dev.name] = dev
	}
	return d, nil
}

// Resources is what the driver publishes: one pool named after the node,
// one slice, every device with both CNI attributes.
func (d *Driver) Resources() resourceslice.DriverResources {
	devs := make([]resourceapi.Device, 0, len(d.devices))
	for _, dev := range d.devices {
		devs = append(devs, resourceapi.Device{
			Name: dev.name,
			Attributes: map[resourceapi.QualifiedName]resourceapi.DeviceAttribute{
				AttrDeviceID:     {StringValue: ptr.To(dev.id)},
				AttrResourceName: {StringValue: ptr.To(d.cfg.ResourceName)},
			},
		})
	}
	return resourceslice.DriverResources{Pools: map[string]resourceslice.Pool{
		d.cfg.Node: {Slices: []resourceslice.Slice{{Devices: devs}}},
	}}
}

// record is what one claim's preparation wrote.
type record struct {
	Claim string   `json:"claim"`
	Files []string `json:"files"`
}

// PrepareResourceClaims writes the device-info file of every device of
// this driver allocated to each claim. A claim that names a device this
// node does not have fails alone, with nothing left written.
func (d *Driver) PrepareResourceClaims(_ context.Context, claims []*resourceapi.ResourceClaim) (map[types.UID]kubeletplugin.PrepareResult, error) {
	out := make(map[types.UID]kubeletplugin.PrepareResult, len(claims))
	for _, c := range claims {
		res, err := d.prepare(c)
		if err != nil {
			d.cfg.Logger.Warn("claim not prepared", "claim", c.Namespace+"/"+c.Name, "uid", c.UID, "err", err)
			res = kubeletplugin.PrepareResult{Err: err}
		} else {
			d.cfg.Logger.Info("claim prepared", "claim", c.Namespace+"/"+c.Name, "uid", c.UID, "devices", len(res.Devices))
		}
		out[c.UID] = res
	}
	return out, nil
}

func (d *Driver) prepare(c *resourceapi.ResourceClaim) (kubeletplugin.PrepareResult, error) {
	ref := c.Namespace + "/" + c.Name
	if c.Status.Allocation == nil {
		return kubeletplugin.PrepareResult{}, fmt.Errorf("resourceclaim %s is not allocated", ref)
	}
	var (
		devs  []kubeletplugin.Device
		files = map[string]string{} // path -> device ID
	)
	for _, r := range c.Status.Allocation.Devices.Results {
		if r.Driver != d.cfg.Driver {
			continue
		}
		dev, ok := d.byName[r.Device]
		if r.Pool != d.cfg.Node || !ok {
			return kubeletplugin.PrepareResult{}, fmt.Errorf("resourceclaim %s: allocated device %s/%s/%s is not one of node %s's (pool %s, %d devices)",
				ref, r.Driver, r.Pool, r.Device, d.cfg.Node, d.cfg.Node, len(d.devices))
		}
		files[d.devInfoFile(dev.id)] = dev.id
		devs = append(devs, kubeletplugin.Device{Requests: []string{r.Request}, PoolName: r.Pool, DeviceName: r.Device})
	}
	rec := record{Claim: ref}
	for f := range files {
		rec.Files = append(rec.Files, f)
	}
	// The record first: whatever is written after it, unpreparing finds.
	if err := d.writeRecord(c.UID, rec); err != nil {
		return kubeletplugin.PrepareResult{}, fmt.Errorf("resourceclaim %s: %w", ref, err)
	}
	for f, id := range files {
		if err := writeDevInfo(f, id); err != nil {
			// Nothing half-written: take back what this claim wrote.
			if uerr := d.unprepare(c.UID); uerr != nil {
				err = errors.Join(err, uerr)
			}
			return kubeletplugin.PrepareResult{}, fmt.Errorf("resourceclaim %s: %w", ref, err)
		}
	}
	return kubeletplugin.PrepareResult{Devices: devs}, nil
}

// UnprepareResourceClaims removes what preparing each claim wrote. A
// claim never prepared here (or unprepared already) is no error: the
// kubelet repeats the call after restarts.
func (d *Driver) UnprepareResourceClaims(_ context.Context, claims []kubeletplugin.NamespacedObject) (map[types.UID]error, error) {
	out := make(map[types.UID]error, len(claims))
	for _, c := range claims {
		err := d.unprepare(c.UID)
		if err != nil {
			err = fmt.Errorf("resourceclaim %s: %w", c, err)
			d.cfg.Logger.Warn("claim not unprepared", "claim", c.String(), "err", err)
		} else {
			d.cfg.Logger.Info("claim unprepared", "claim", c.String())
		}
		out[c.UID] = err
	}
	return out, nil
}

func (d *Driver) unprepare(uid types.UID) error {
	path, err := d.recordPath(uid)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read claim record: %w", err)
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return fmt.Errorf("claim record %s: %w", path, err)
	}
	dp := d.dpDir() + string(filepath.Separator)
	for _, f := range rec.Files {
		// Only what this driver writes; a record is never a way to delete
		// anything else.
		if !strings.HasPrefix(filepath.Clean(f), dp) {
			return fmt.Errorf("claim record %s names %s, outside %s", path, f, dp)
		}
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove device-info: %w", err)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove claim record: %w", err)
	}
	return nil
}

// HandleError logs background errors (ResourceSlice publishing, gRPC);
// one the helper cannot recover from stops the command.
func (d *Driver) HandleError(_ context.Context, err error, msg string) {
	d.cfg.Logger.Error(msg, "err", err)
	if !errors.Is(err, kubeletplugin.ErrRecoverable) && d.fatal != nil {
		d.fatal(fmt.Errorf("%s: %w", msg, err))
	}
}

// WatchHealthStatus: fake devices have no health to report (the service
// is turned off as well, so the kubelet does not ask).
func (d *Driver) WatchHealthStatus(context.Context, chan<- kubeletplugin.DeviceHealthReport) error {
	return kubeletplugin.ErrHealthNotSupported
}

func (d *Driver) dpDir() string { return filepath.Join(d.cfg.DevInfoDir, "dp") }

// devInfoFile is a device plugin's device-info file for a device of this
// resource (§4.12): <dir>/dp/<resource>-<deviceID>-device.json with '/'
// replaced by '-', where the daemon looks for it.
func (d *Driver) devInfoFile(id string) string {
	name := strings.ReplaceAll(fmt.Sprintf("%s-%s-device.json", d.cfg.ResourceName, id), "/", "-")
	return filepath.Join(d.dpDir(), name)
}

func (d *Driver) recordPath(uid types.UID) (string, error) {
	if uid == "" || strings.ContainsAny(string(uid), `/\`) || strings.HasPrefix(string(uid), ".") {
		return "", fmt.Errorf("claim UID %q cannot name a record file", uid)
	}
	return filepath.Join(d.cfg.StateDir, string(uid)+".json"), nil
}

func (d *Driver) writeRecord(uid types.UID, rec record) error {
	path, err := d.recordPath(uid)
	if err != nil {
		return err
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("claim record: %w", err)
	}
	if err := writeAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("claim record: %w", err)
	}
	return nil
}

// writeDevInfo writes a PCI device-info file (device-info spec 1.1.0, as
// the SR-IOV device plugin writes them), read-only as upstream's helper
// leaves it.
func writeDevInfo(path, id string) error {
	data, err := json.Marshal(nadv1.DeviceInfo{
		Type: nadv1.DeviceInfoTypePCI, Version: nadv1.DeviceInfoVersion,
		Pci: &nadv1.PciDevice{PciAddress: id},
	})
	if err != nil {
		return fmt.Errorf("device-info of %s: %w", id, err)
	}
	if err := writeAtomic(path, data, 0o444); err != nil {
		return fmt.Errorf("device-info of %s: %w", id, err)
	}
	return nil
}

// writeAtomic writes data to path through a temp file in the same
// directory and a rename: a reader (the daemon) sees the old file or the
// new one, never a torn one.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Chmod(mode)
	}
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}
