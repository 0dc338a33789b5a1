package attach

import (
	"fmt"

	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// ADD's rules on a resolved delegate list live here and in ifname.go; the
// resolver only resolves, so every list is judged the same way, whichever
// resolver built it.

// checkDelegates applies ADD's rules to a resolved list before anything
// runs: every interface name valid and unique (ifNames), at most one
// default route per IP family (checkGatewayConfig). The list's delegates
// are marked for default-route filtering.
func checkDelegates(ds []*netconf.Delegate, reqIfName string) error {
	if _, err := ifNames(ds, reqIfName); err != nil {
		return err
	}
	return checkGatewayConfig(ds)
}

// checkGatewayConfig applies netconf.ApplyGatewayConfig to the list, for
// whatever resolver built it, and classifies a conflict as a bad config.
func checkGatewayConfig(ds []*netconf.Delegate) error {
	if err := netconf.ApplyGatewayConfig(ds); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}
