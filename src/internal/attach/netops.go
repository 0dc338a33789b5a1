package attach

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// netOps is the work the daemon does itself inside the pod's netns.
type netOps interface {
	// LinkExists reports whether ifname exists in the netns.
	LinkExists(netnsPath, ifname string) (bool, error)
	// SetDefaultRoutes removes the default routes of the chosen families
	// on ifname, then adds one default route per gateway on it.
	SetDefaultRoutes(netnsPath, ifname string, delV4, delV6 bool, gateways []net.IP) error
}

// kernelNet is netOps on the real kernel, through netns switching in
// ns.WithNetNSPath (which pins the OS thread) and EINTR-safe netlink.
type kernelNet struct{}

var _ netOps = kernelNet{}

func (kernelNet) LinkExists(netnsPath, ifname string) (bool, error) {
	exists := false
	err := ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		_, err := netlinksafe.LinkByName(ifname)
		var notFound netlink.LinkNotFoundError
		switch {
		case err == nil:
			exists = true
		case errors.As(err, &notFound):
		default:
			return fmt.Errorf("look up link %q: %w", ifname, err)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("netns %s: %w", netnsPath, err)
	}
	return exists, nil
}

func (kernelNet) SetDefaultRoutes(netnsPath, ifname string, delV4, delV6 bool, gateways []net.IP) error {
	err := ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		link, err := netlinksafe.LinkByName(ifname)
		if err != nil {
			return fmt.Errorf("look up link %q: %w", ifname, err)
		}
		for family, del := range map[int]bool{netlink.FAMILY_V4: delV4, netlink.FAMILY_V6: delV6} {
			if !del {
				continue
			}
			routes, err := netlinksafe.RouteList(link, family)
			if err != nil {
				return fmt.Errorf("list routes of %q: %w", ifname, err)
			}
			for _, r := range routes {
				if !isDefaultDst(r.Dst) {
					continue
				}
				if err := netlink.RouteDel(&r); err != nil && !errors.Is(err, syscall.ESRCH) {
					return fmt.Errorf("delete default route via %v on %q: %w", r.Gw, ifname, err)
				}
			}
		}
		for _, gw := range gateways {
			route := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: gw, Scope: netlink.SCOPE_UNIVERSE}
			if gw.To4() != nil {
				route.Dst = &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}
			} else {
				route.Dst = &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
			}
			if err := netlink.RouteAdd(route); err != nil && !errors.Is(err, syscall.EEXIST) {
				return fmt.Errorf("add default route via %v on %q: %w", gw, ifname, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("netns %s: %w", netnsPath, err)
	}
	return nil
}

// isDefaultDst: netlink reports a default route with a nil Dst, or with a
// zero-length prefix on some kernels.
func isDefaultDst(dst *net.IPNet) bool {
	if dst == nil {
		return true
	}
	ones, _ := dst.Mask.Size()
	return ones == 0
}
