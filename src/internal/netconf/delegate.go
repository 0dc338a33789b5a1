package netconf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	cnitypes "github.com/containernetworking/cni/pkg/types"
)

// Delegate is one network a pod is attached to: a CNI config (single
// plugin or conflist) plus the per-network requests from the pod.
//
// The JSON form is upstream Multus' scratch cache format
// (<cniDir>/<containerID>), key for key, so that a node upgraded from
// upstream can still DEL pods upstream created, and the other way round.
type Delegate struct {
	Conf                  cnitypes.NetConf     `json:"Conf"`
	ConfList              cnitypes.NetConfList `json:"ConfList"`
	Name                  string               `json:"Name"`
	IfnameRequest         string               `json:"ifnameRequest,omitempty"`
	MacRequest            string               `json:"macRequest,omitempty"`
	InfinibandGUIDRequest string               `json:"infinibandGUIDRequest,omitempty"`
	IPRequest             []string             `json:"ipRequest,omitempty"`
	GatewayRequest        *[]net.IP            `json:"default-route,omitempty"`
	IsFilterV4Gateway     bool                 `json:"IsFilterV4Gateway"`
	IsFilterV6Gateway     bool                 `json:"IsFilterV6Gateway"`
	DeviceID              string               `json:"deviceID,omitempty"`
	ResourceName          string               `json:"resourceName,omitempty"`
	// Bytes is the exact config JSON the delegate is executed with.
	Bytes []byte `json:"Bytes"`

	// multus-thick's own keys, added to upstream's format: upstream's
	// decoder ignores them, and a file without them (upstream's, or ours
	// from before) reads as it always did.
	Record

	// Not cached: rebuilt at DEL (MasterPlugin is entry 0, ConfListPlugin
	// is "has ConfList.Plugins") or only meaningful at ADD.
	PortMappingsRequest []*PortMapEntry `json:"-"`
	BandwidthRequest    *BandwidthEntry `json:"-"`
	MasterPlugin        bool            `json:"-"`
	ConfListPlugin      bool            `json:"-"`
}

// Record is what the daemon keeps about a delegate beyond upstream's
// fields, so that nothing it added is ever lost: the runtime arguments of
// its ADD (DEL and CHECK give it the same ones, portMappings included),
// whether /delegate added it, and the state of its DEL.
type Record struct {
	Runtime *CachedRuntime `json:"multusThickRuntime,omitempty"`
	// Hotplug: added through /delegate, into a running pod.
	Hotplug bool `json:"multusThickHotplug,omitempty"`
	// Released: its DEL succeeded (or it never ran) while another
	// delegate's failed; a retry skips it.
	Released bool `json:"multusThickReleased,omitempty"`
	// DelFailure is set while its DEL has failed and is being retried.
	DelFailure *DelFailure `json:"multusThickDelFailure,omitempty"`
}

// CachedRuntime is the libcni runtime configuration a delegate got at ADD.
type CachedRuntime struct {
	IfName         string         `json:"ifname"`
	NetNS          string         `json:"netns,omitempty"`
	Args           [][2]string    `json:"args,omitempty"`
	CapabilityArgs map[string]any `json:"capabilityArgs,omitempty"`
}

// DelFailure is a delegate DEL that failed and is pending a retry.
type DelFailure struct {
	Error string `json:"error"`
	// Since is the first failure; the retry gives up after a configured
	// age (GaveUp), keeping the record for the operator.
	Since       time.Time `json:"since"`
	LastAttempt time.Time `json:"lastAttempt"`
	Attempts    int       `json:"attempts"`
	// Rollback: the DEL was an ADD's rollback.
	Rollback bool `json:"rollback,omitempty"`
	GaveUp   bool `json:"gaveUp,omitempty"`
}

// Pending reports whether the delegate's DEL still has to be retried.
func (d *Delegate) Pending() bool { return d.DelFailure != nil && !d.DelFailure.GaveUp }

// ErrNoType means a config is neither a plugin (no "type") nor a conflist
// with a typed first plugin.
var ErrNoType = errors.New(`config has no "type" and no "plugins" with a typed first plugin`)

// LoadDelegate parses a delegate config: a single plugin config when it has
// a top-level "type", a conflist otherwise.
func LoadDelegate(data []byte) (*Delegate, error) {
	d := &Delegate{}
	if err := json.Unmarshal(data, &d.Conf); err != nil {
		return nil, fmt.Errorf("parse delegate config: %w", err)
	}
	if d.Conf.Type == "" {
		if err := json.Unmarshal(data, &d.ConfList); err != nil {
			return nil, fmt.Errorf("parse delegate conflist: %w", err)
		}
		if len(d.ConfList.Plugins) == 0 || d.ConfList.Plugins[0] == nil || d.ConfList.Plugins[0].Type == "" {
			return nil, ErrNoType
		}
		// A null entry would be a nil plugin for every later reader.
		for i, p := range d.ConfList.Plugins {
			if p == nil {
				return nil, fmt.Errorf("parse delegate conflist: plugin %d is null", i)
			}
		}
		d.ConfListPlugin = true
		d.Conf = cnitypes.NetConf{}
	}
	d.Bytes = compact(data)
	d.Name = d.CNIName()
	return d, nil
}

// CNIName is the network name inside the config (conflist or plugin).
func (d *Delegate) CNIName() string {
	if d.ConfListPlugin {
		return d.ConfList.Name
	}
	return d.Conf.Name
}

// CNIVersion is the cniVersion inside the config (conflist or plugin).
func (d *Delegate) CNIVersion() string {
	if d.ConfListPlugin {
		return d.ConfList.CNIVersion
	}
	return d.Conf.CNIVersion
}

// Type is the plugin type, or the first plugin's type for a conflist.
func (d *Delegate) Type() string {
	if d.ConfListPlugin {
		if len(d.ConfList.Plugins) > 0 {
			return d.ConfList.Plugins[0].Type
		}
		return ""
	}
	return d.Conf.Type
}

// InjectFields sets top-level keys in the config (single plugin) or in every
// plugin of a conflist, as upstream does for deviceID/pciBusID. Other fields
// are kept byte for byte.
func (d *Delegate) InjectFields(fields map[string]any) error {
	return d.editPlugins(func(plugin map[string]json.RawMessage) error {
		for k, v := range fields {
			raw, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("inject %q: %w", k, err)
			}
			plugin[k] = raw
		}
		return nil
	})
}

// InjectCNIArgs merges args into args.cni of the config, or of every plugin
// of a conflist. Existing keys are overwritten.
func (d *Delegate) InjectCNIArgs(args map[string]any) error {
	if len(args) == 0 {
		return nil
	}
	return d.editPlugins(func(plugin map[string]json.RawMessage) error {
		outer := map[string]json.RawMessage{}
		if raw, ok := plugin["args"]; ok && !isNull(raw) {
			if err := json.Unmarshal(raw, &outer); err != nil {
				return fmt.Errorf(`"args" is not an object: %w`, err)
			}
		}
		cni := map[string]any{}
		if raw, ok := outer["cni"]; ok && !isNull(raw) {
			if err := json.Unmarshal(raw, &cni); err != nil {
				return fmt.Errorf(`"args.cni" is not an object: %w`, err)
			}
		}
		for k, v := range args {
			cni[k] = v
		}
		raw, err := json.Marshal(cni)
		if err != nil {
			return err
		}
		outer["cni"] = raw
		if plugin["args"], err = json.Marshal(outer); err != nil {
			return err
		}
		return nil
	})
}

// SetCNIVersionIfMissing gives a conflist the version when it has none
// (upstream does this at DEL), keeping every other field.
func (d *Delegate) SetCNIVersionIfMissing(version string) error {
	if !d.ConfListPlugin || d.ConfList.CNIVersion != "" || version == "" {
		return nil
	}
	top := map[string]json.RawMessage{}
	if err := json.Unmarshal(d.Bytes, &top); err != nil {
		return fmt.Errorf("delegate %q: %w", d.Name, err)
	}
	raw, _ := json.Marshal(version)
	top["cniVersion"] = raw
	out, err := json.Marshal(top)
	if err != nil {
		return err
	}
	d.Bytes = out
	d.ConfList.CNIVersion = version
	return nil
}

// editPlugins applies edit to the single plugin, or to each plugin of the
// conflist, and rewrites Bytes from the edited raw maps, losslessly.
func (d *Delegate) editPlugins(edit func(map[string]json.RawMessage) error) error {
	top := map[string]json.RawMessage{}
	if err := json.Unmarshal(d.Bytes, &top); err != nil {
		return fmt.Errorf("delegate %q: %w", d.Name, err)
	}
	if !d.ConfListPlugin {
		if err := edit(top); err != nil {
			return fmt.Errorf("delegate %q: %w", d.Name, err)
		}
	} else {
		var plugins []map[string]json.RawMessage
		if err := json.Unmarshal(top["plugins"], &plugins); err != nil {
			return fmt.Errorf("delegate %q: plugins: %w", d.Name, err)
		}
		for i, p := range plugins {
			if err := edit(p); err != nil {
				return fmt.Errorf("delegate %q: plugins[%d]: %w", d.Name, i, err)
			}
		}
		raw, err := json.Marshal(plugins)
		if err != nil {
			return err
		}
		top["plugins"] = raw
	}
	out, err := json.Marshal(top)
	if err != nil {
		return err
	}
	reparsed, err := LoadDelegate(out)
	if err != nil {
		return err
	}
	// Keep the request fields; refresh only what was derived from Bytes.
	d.Conf, d.ConfList, d.Bytes = reparsed.Conf, reparsed.ConfList, reparsed.Bytes
	return nil
}

// SetName renames the config inside Bytes (used when a NAD's spec.config
// has no name: upstream injects the NAD name).
func (d *Delegate) SetName(name string) error {
	top := map[string]json.RawMessage{}
	if err := json.Unmarshal(d.Bytes, &top); err != nil {
		return fmt.Errorf("delegate %q: %w", d.Name, err)
	}
	raw, _ := json.Marshal(name)
	top["name"] = raw
	out, err := json.Marshal(top)
	if err != nil {
		return err
	}
	reparsed, err := LoadDelegate(out)
	if err != nil {
		return err
	}
	d.Conf, d.ConfList, d.Bytes = reparsed.Conf, reparsed.ConfList, reparsed.Bytes
	return nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

func compact(data []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return append([]byte(nil), data...)
	}
	return buf.Bytes()
}
