// Package netselect parses the pod annotations that select networks:
// k8s.v1.cni.cncf.io/networks (text form "ns/name@ifname, ..." and JSON
// form) and v1.multus-cni.io/default-network.
//
// It is pure on purpose: no client-go, no file system, no clock, so it is
// cheap to test and to fuzz (FuzzParse), and the resolver and any tooling
// can share one parser (multus-thick-behaviour.md §4.3).
package netselect
