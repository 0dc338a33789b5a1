package attach

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"

	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// devInfoFile is the CNIDeviceInfoFile of a delegate with a device ID
// (§4.12): <dir>/cni/<delegate>-<containerID>_<ifname>, '/' replaced by '-'.
func (a *Attacher) devInfoFile(d *netconf.Delegate, containerID, ifname string) string {
	if d.DeviceID == "" {
		return ""
	}
	name := strings.ReplaceAll(fmt.Sprintf("%s-%s_%s", d.Name, containerID, ifname), "/", "-")
	return filepath.Join(a.opts.DevInfoDir, "cni", name)
}

// copyDPDeviceInfo copies the device plugin's device-info file for d, if
// the device plugin wrote one, to the delegate's CNIDeviceInfoFile.
func (a *Attacher) copyDPDeviceInfo(d *netconf.Delegate, dst string) error {
	if dst == "" || d.ResourceName == "" {
		return nil
	}
	name := strings.ReplaceAll(fmt.Sprintf("%s-%s-device.json", d.ResourceName, d.DeviceID), "/", "-")
	data, err := os.ReadFile(filepath.Join(a.opts.DevInfoDir, "dp", name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read device plugin device-info: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("write device-info: %w", err)
	}
	if err := removeIfExists(dst); err != nil {
		return fmt.Errorf("write device-info: %w", err)
	}
	if err := os.WriteFile(dst, data, 0o444); err != nil {
		return fmt.Errorf("write device-info: %w", err)
	}
	return nil
}

// loadDeviceInfo reads a CNIDeviceInfoFile back (the delegate may have
// written it); absent or unreadable files give no device-info.
func loadDeviceInfo(path string) *nadv1.DeviceInfo {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	info := &nadv1.DeviceInfo{}
	if err := json.Unmarshal(data, info); err != nil {
		return nil
	}
	return info
}
