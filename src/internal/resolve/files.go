package resolve

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/containernetworking/cni/libcni"

	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// ErrConfigNotFound means no config file in the directory has the name.
var ErrConfigNotFound = errors.New("no CNI config with that name")

// chainName is what a conflist name must look like before it is used as
// a subdirectory name; it also keeps "../" out of the path.
var chainName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// isPath is upstream's rule: a value with '/' is a file or directory.
func isPath(value string) bool { return strings.Contains(value, "/") }

// confFiles lists the config files of dir with the extensions, sorted.
func confFiles(dir string, exts ...string) ([]string, error) {
	files, err := libcni.ConfFiles(dir, exts)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	sort.Strings(files)
	return files, nil
}

// loadPath loads a clusterNetwork/defaultNetworks path: a directory (its
// first config file) or a file.
func loadPath(path string) (*netconf.Delegate, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return loadFile(path)
	}
	files, err := confFiles(path, ".conf", ".conflist")
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("directory %s has no .conf or .conflist file", path)
	}
	return loadFile(files[0])
}

// findByName loads the config in dir whose network name is name (.conf,
// .json, .conflist, in sorted order, first match wins).
func findByName(dir, name string) (*netconf.Delegate, error) {
	files, err := confFiles(dir, ".conf", ".json", ".conflist")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // a file being rewritten; the next ADD sees it
		}
		var probe struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(data, &probe) != nil || probe.Name != name {
			continue
		}
		return loadBytes(f, data)
	}
	return nil, fmt.Errorf("%w: %q", ErrConfigNotFound, name)
}

func loadFile(path string) (*netconf.Delegate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return loadBytes(path, data)
}

// loadBytes parses a config file: a .conflist gets its subdirectory chain,
// anything else must be a single plugin config with a type.
func loadBytes(path string, data []byte) (*netconf.Delegate, error) {
	if filepath.Ext(path) == ".conflist" {
		d, err := loadConflist(path, data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return d, nil
	}
	d, err := netconf.LoadDelegate(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if d.ConfListPlugin {
		return nil, fmt.Errorf("%s: a plugin config needs a \"type\" (conflists must be named *.conflist)", path)
	}
	return d, nil
}

// loadConflist appends the plugins of <dir>/<name>/*.conf (libcni's
// subdirectory chaining) unless the list sets loadOnlyInlinedPlugins.
func loadConflist(path string, data []byte) (*netconf.Delegate, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("parse conflist: %w", err)
	}
	var head struct {
		Name                   string            `json:"name"`
		LoadOnlyInlinedPlugins bool              `json:"loadOnlyInlinedPlugins"`
		Plugins                []json.RawMessage `json:"plugins"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("parse conflist: %w", err)
	}
	// A name that cannot be a directory name has no chain; refusing it
	// here also keeps "../" out of the lookup path.
	if !head.LoadOnlyInlinedPlugins && chainName.MatchString(head.Name) {
		extra, err := chainPlugins(filepath.Dir(path), head.Name)
		if err != nil {
			return nil, err
		}
		if len(extra) > 0 {
			raw, err := json.Marshal(append(head.Plugins, extra...))
			if err != nil {
				return nil, err
			}
			top["plugins"] = raw
			if data, err = json.Marshal(top); err != nil {
				return nil, err
			}
		}
	}
	return netconf.LoadDelegate(data)
}

// chainPlugins returns the plugin configs in <dir>/<name>/*.conf, sorted.
func chainPlugins(dir, name string) ([]json.RawMessage, error) {
	confs, err := libcni.NetworkPluginConfsFromFiles(dir, name)
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, 0, len(confs))
	for _, c := range confs {
		out = append(out, json.RawMessage(c.Bytes))
	}
	return out, nil
}

// auxPlugin and auxList are the auxiliary chain's conflist (§4.9.5),
// marshalled rather than formatted so names are escaped correctly.
type auxPlugin struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

type auxList struct {
	CNIVersion string            `json:"cniVersion"`
	Name       string            `json:"name"`
	Plugins    []json.RawMessage `json:"plugins"`
}

// auxiliaryChain builds the auxiliaryCNIChainName delegate: a passthru
// plugin followed by the plugins in the chain's subdirectory next to the
// cluster network's config. It returns nil when that directory has none.
func auxiliaryChain(conf *netconf.NetConf) (*netconf.Delegate, error) {
	name := conf.AuxiliaryCNIChainName
	if !isPath(conf.ClusterNetwork) {
		return nil, fmt.Errorf("auxiliaryCNIChainName %q needs clusterNetwork to be a path, got %q", name, conf.ClusterNetwork)
	}
	if !chainName.MatchString(name) {
		return nil, fmt.Errorf("auxiliaryCNIChainName %q is not a valid directory name (%s)", name, chainName)
	}
	dir := conf.ClusterNetwork
	// Upstream takes the parent of clusterNetwork, which is right for a
	// file; for a directory the chain lives inside it.
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		dir = filepath.Dir(dir)
	}
	extra, err := chainPlugins(dir, name)
	if err != nil {
		return nil, fmt.Errorf("auxiliaryCNIChainName %q: %w", name, err)
	}
	if len(extra) == 0 {
		return nil, nil
	}
	passthru, err := json.Marshal(auxPlugin{Type: "passthru", Name: "passthru-cni"})
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(auxList{
		CNIVersion: conf.CNIVersion,
		Name:       name,
		Plugins:    append([]json.RawMessage{passthru}, extra...),
	})
	if err != nil {
		return nil, err
	}
	d, err := netconf.LoadDelegate(data)
	if err != nil {
		return nil, fmt.Errorf("auxiliaryCNIChainName %q: %w", name, err)
	}
	return d, nil
}
