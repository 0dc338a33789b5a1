package netselect

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"unicode"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// MaxIfnameLen is the longest interface name Linux accepts (IFNAMSIZ-1).
const MaxIfnameLen = 15

// ErrInvalid is wrapped by every validation error, so callers can tell bad
// user input (the pod's fault) from lookup failures.
var ErrInvalid = errors.New("invalid network selection")

// Selection is one selected network with the per-network requests. The
// JSON tags are the annotation's JSON form, so a Selection marshals back
// into a valid annotation entry.
type Selection struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	// Interface is the requested interface name ("interface", or the
	// deprecated "interfaceRequest", or text form's "@ifname").
	Interface      string                  `json:"interface,omitempty"`
	IPs            []string                `json:"ips,omitempty"`
	MAC            string                  `json:"mac,omitempty"`
	InfinibandGUID string                  `json:"infiniband-guid,omitempty"`
	PortMappings   []*netconf.PortMapEntry `json:"portMappings,omitempty"`
	Bandwidth      *netconf.BandwidthEntry `json:"bandwidth,omitempty"`
	DeviceID       string                  `json:"deviceID,omitempty"`
	CNIArgs        map[string]any          `json:"cni-args,omitempty"`
	// GatewayRequest is "default-route". A pointer because an explicitly
	// empty list is meaningful: it still filters every default route
	// (multus-thick-behaviour.md §4.10).
	GatewayRequest *[]net.IP `json:"default-route,omitempty"`
}

// jsonSelection is the wire form, with the deprecated alias.
type jsonSelection struct {
	Selection
	InterfaceRequest string `json:"interfaceRequest,omitempty"`
}

// dnsLabel is what the text form accepts for a namespace or a name.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Parse parses a k8s.v1.cni.cncf.io/networks value. Entries without a
// namespace get defaultNamespace (the pod's). An empty value selects no
// network and is not an error.
func Parse(value, defaultNamespace string) ([]Selection, error) {
	if strings.TrimSpace(value) == "" {
		return nil, nil
	}
	var sels []Selection
	var err error
	if isJSON(value) {
		sels, err = parseJSON(value)
	} else {
		sels, err = parseText(value)
	}
	if err != nil {
		return nil, err
	}
	seen := map[string]int{}
	for i := range sels {
		s := &sels[i]
		if s.Namespace == "" {
			s.Namespace = defaultNamespace
		}
		if err := s.validate(); err != nil {
			return nil, fmt.Errorf("%w: entry %d (%s): %w", ErrInvalid, i, s.ref(), err)
		}
		if s.Interface == "" {
			continue
		}
		if j, dup := seen[s.Interface]; dup {
			return nil, fmt.Errorf("%w: entry %d (%s): interface name %q is already requested by entry %d", ErrInvalid, i, s.ref(), s.Interface, j)
		}
		seen[s.Interface] = i
	}
	return sels, nil
}

// ParseDefault parses v1.multus-cni.io/default-network: the same syntax,
// exactly one entry, and the default namespace is multusNamespace.
func ParseDefault(value, multusNamespace string) (*Selection, error) {
	sels, err := Parse(value, multusNamespace)
	if err != nil {
		return nil, err
	}
	if len(sels) != 1 {
		return nil, fmt.Errorf("%w: %s must name exactly one network, got %d", ErrInvalid, api.DefaultNetworkAnnotation, len(sels))
	}
	return &sels[0], nil
}

// isJSON is upstream's rule: any of [ { " means the JSON form.
func isJSON(value string) bool { return strings.ContainsAny(value, `[{"`) }

func parseJSON(value string) ([]Selection, error) {
	var raw []jsonSelection
	if err := json.Unmarshal([]byte(value), &raw); err != nil {
		return nil, fmt.Errorf("%w: JSON form must be an array of network selection objects: %w", ErrInvalid, err)
	}
	out := make([]Selection, 0, len(raw))
	for _, r := range raw {
		s := r.Selection
		if s.Interface == "" {
			s.Interface = r.InterfaceRequest
		}
		out = append(out, s)
	}
	return out, nil
}

func parseText(value string) ([]Selection, error) {
	items := strings.Split(value, ",")
	out := make([]Selection, 0, len(items))
	for i, item := range items {
		s, err := parseTextItem(strings.TrimSpace(item))
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d (%q): %w", ErrInvalid, i, item, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// parseTextItem parses [<namespace>/]<name>[@<ifname>] with upstream's
// leniency, so that an annotation upstream accepts selects the same
// networks here: blanks around '/' and '@' are dropped ("ns / a @ net1"),
// an empty namespace ("/a") means the pod's namespace, and an empty
// interface after '@' ("a@") means no requested interface name.
func parseTextItem(item string) (Selection, error) {
	var s Selection
	rest := item
	if parts := strings.Split(item, "/"); len(parts) > 2 {
		return s, errors.New("more than one '/' (want [namespace/]name[@ifname])")
	} else if len(parts) == 2 {
		s.Namespace, rest = strings.TrimSpace(parts[0]), parts[1]
		if s.Namespace != "" && !dnsLabel.MatchString(s.Namespace) {
			return s, fmt.Errorf("namespace %q is not a DNS-1123 label", s.Namespace)
		}
	}
	parts := strings.Split(rest, "@")
	if len(parts) > 2 {
		return s, errors.New("more than one '@' (want [namespace/]name[@ifname])")
	}
	s.Name = strings.TrimSpace(parts[0])
	if !dnsLabel.MatchString(s.Name) {
		return s, fmt.Errorf("name %q is not a DNS-1123 label", s.Name)
	}
	if len(parts) == 2 {
		s.Interface = strings.TrimSpace(parts[1])
	}
	return s, nil
}

func (s *Selection) ref() string { return s.Namespace + "/" + s.Name }

// validate applies the rules common to both forms.
func (s *Selection) validate() error {
	if s.Name == "" {
		return errors.New(`"name" is required`)
	}
	if s.Interface != "" {
		if err := ValidateIfname(s.Interface); err != nil {
			return err
		}
	}
	if s.MAC != "" {
		if _, err := net.ParseMAC(s.MAC); err != nil {
			return fmt.Errorf("mac %q: %w", s.MAC, err)
		}
	}
	if s.InfinibandGUID != "" {
		if _, err := net.ParseMAC(s.InfinibandGUID); err != nil {
			return fmt.Errorf("infiniband-guid %q: %w", s.InfinibandGUID, err)
		}
	}
	for _, ip := range s.IPs {
		if strings.Contains(ip, "/") {
			if _, _, err := net.ParseCIDR(ip); err != nil {
				return fmt.Errorf("ips: %q is not a CIDR: %w", ip, err)
			}
		} else if net.ParseIP(ip) == nil {
			return fmt.Errorf("ips: %q is not an IP address", ip)
		}
	}
	return nil
}

// ValidateIfname applies the kernel's rules for a link name
// (dev_valid_name): 1-15 bytes, not "." or "..", no '/', ':' or
// whitespace. Upstream checks only length, '/' and whitespace; the rest
// would fail later inside the delegate with a less clear message.
func ValidateIfname(name string) error {
	switch {
	case name == "":
		return errors.New("interface name is empty")
	case len(name) > MaxIfnameLen:
		return fmt.Errorf("interface name %q is longer than %d characters", name, MaxIfnameLen)
	case name == "." || name == "..":
		return fmt.Errorf("interface name %q is reserved", name)
	case strings.ContainsAny(name, "/:"):
		return fmt.Errorf("interface name %q contains '/' or ':'", name)
	case strings.IndexFunc(name, unicode.IsSpace) >= 0:
		return fmt.Errorf("interface name %q contains whitespace", name)
	}
	return nil
}
