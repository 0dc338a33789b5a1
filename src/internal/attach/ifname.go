package attach

import (
	"fmt"
	"strconv"

	"github.com/containernetworking/cni/pkg/utils"

	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// ifNames names each delegate's interface (§4.8): its explicit request,
// else reqIfName for the master, else net<index>. The whole list is
// checked before anything runs: a duplicate or invalid name (over 15
// bytes, '/', ':' or spaces) fails the request naming both networks.
func ifNames(ds []*netconf.Delegate, reqIfName string) ([]string, error) {
	names := make([]string, len(ds))
	owner := map[string]string{}
	for i, d := range ds {
		name := d.IfnameRequest
		switch {
		case name != "":
		case d.MasterPlugin:
			name = reqIfName
		default:
			name = "net" + strconv.Itoa(i)
		}
		if cerr := utils.ValidateInterfaceName(name); cerr != nil {
			return nil, fmt.Errorf("%w: network %q: interface name %q: %s", ErrInvalidConfig, d.Name, name, cerr.Msg)
		}
		if other, dup := owner[name]; dup {
			return nil, fmt.Errorf("%w: networks %q and %q both use interface name %q", ErrInvalidConfig, other, d.Name, name)
		}
		owner[name] = d.Name
		names[i] = name
	}
	return names, nil
}
