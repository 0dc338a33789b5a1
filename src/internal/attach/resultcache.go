package attach

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
)

// editResultCache applies p to libcni's result cache
// <cacheDir>/results/<network>-<containerID>-<ifname>, so that CHECK and
// DEL (which receive the cached result as prevResult) see the routes the
// pod really has. Results in 0.1.0/0.2.0 form keep routes under ip4/ip6.
func editResultCache(cacheDir, network, containerID, ifname string, p routePlan) error {
	path := filepath.Join(cacheDir, "results", fmt.Sprintf("%s-%s-%s", network, containerID, ifname))
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read result cache: %w", err)
	}
	var cached map[string]json.RawMessage
	if err := json.Unmarshal(data, &cached); err != nil {
		return fmt.Errorf("decode result cache %s: %w", path, err)
	}
	var result map[string]any
	if raw, ok := cached["result"]; ok {
		if err := json.Unmarshal(raw, &result); err != nil {
			return fmt.Errorf("decode result cache %s: %w", path, err)
		}
	}
	if result == nil {
		return nil
	}
	if _, legacy := result["ip4"]; legacy || result["ip6"] != nil {
		for fam, del := range map[string]bool{"ip4": p.delV4, "ip6": p.delV6} {
			sub, _ := result[fam].(map[string]any)
			if sub == nil {
				continue
			}
			routes, _ := sub["routes"].([]any)
			sub["routes"] = editRoutes(routes, del && fam == "ip4", del && fam == "ip6", familyGateways(p.gateways, fam == "ip4"))
		}
	} else {
		routes, _ := result["routes"].([]any)
		result["routes"] = editRoutes(routes, p.delV4, p.delV6, p.gateways)
	}
	raw, err := json.Marshal(result)
	if err != nil {
		return err
	}
	cached["result"] = raw
	out, err := json.Marshal(cached)
	if err != nil {
		return err
	}
	return writeCache(path, out)
}

func familyGateways(gws []net.IP, v4 bool) []net.IP {
	var out []net.IP
	for _, gw := range gws {
		if (gw.To4() != nil) == v4 {
			out = append(out, gw)
		}
	}
	return out
}

func editRoutes(routes []any, delV4, delV6 bool, gateways []net.IP) []any {
	out := []any{}
	for _, r := range routes {
		m, _ := r.(map[string]any)
		dst, _ := m["dst"].(string)
		if _, n, err := net.ParseCIDR(dst); err == nil && isDefaultDst(n) {
			if (n.IP.To4() != nil && delV4) || (n.IP.To4() == nil && delV6) {
				continue
			}
		}
		out = append(out, r)
	}
	for _, gw := range gateways {
		dst := "0.0.0.0/0"
		if gw.To4() == nil {
			dst = "::0/0"
		}
		out = append(out, map[string]any{"dst": dst, "gw": gw.String()})
	}
	return out
}
