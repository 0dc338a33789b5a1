package netconf

import (
	"encoding/json"
	"fmt"
)

// MarshalCache encodes delegates in upstream's scratch cache format: a JSON
// array of Delegate objects with the executed config in base64 "Bytes".
func MarshalCache(delegates []*Delegate) ([]byte, error) {
	out, err := json.Marshal(delegates)
	if err != nil {
		return nil, fmt.Errorf("encode delegate cache: %w", err)
	}
	return out, nil
}

// UnmarshalCache decodes a scratch cache file written by us or by upstream.
// It restores what the file does not store: ConfListPlugin for entries
// with ConfList.Plugins, and MasterPlugin for entry 0.
func UnmarshalCache(data []byte) ([]*Delegate, error) {
	var delegates []*Delegate
	if err := json.Unmarshal(data, &delegates); err != nil {
		return nil, fmt.Errorf("decode delegate cache: %w", err)
	}
	for i, d := range delegates {
		if d == nil {
			return nil, fmt.Errorf("decode delegate cache: entry %d is null", i)
		}
		d.ConfListPlugin = len(d.ConfList.Plugins) > 0
		if len(d.Bytes) == 0 {
			return nil, fmt.Errorf("decode delegate cache: entry %d (%q) has no Bytes", i, d.Name)
		}
	}
	if len(delegates) > 0 {
		delegates[0].MasterPlugin = true
	}
	return delegates, nil
}
