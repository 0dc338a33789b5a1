package resolve

import (
	"fmt"

	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// ErrECMP means two delegates asked for a default route of one family.
var ErrECMP = netconf.ErrECMP

// checkInterfaces rejects two delegates asking for the same interface
// name, before anything runs (the second would fail in the netns after the
// first was already added).
func checkInterfaces(ds []*netconf.Delegate) error {
	seen := map[string]string{}
	for _, d := range ds {
		if d.IfnameRequest == "" {
			continue
		}
		if other, dup := seen[d.IfnameRequest]; dup {
			return fmt.Errorf("interface name %q is requested by both %q and %q", d.IfnameRequest, other, d.Name)
		}
		seen[d.IfnameRequest] = d.Name
	}
	return nil
}
