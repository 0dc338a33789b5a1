// Package addons holds what the lab installs on the cluster besides our
// daemon: flannel as the cluster network and CoreDNS's Corefile.
package addons

import (
	_ "embed"
)

// FlannelImage is the tag the flannel manifest runs; lab-up builds and
// loads it (flanneld plus busybox), so it is never pulled.
const FlannelImage = "localhost/flannel:lab"

// Flannel is the flannel manifest (namespace, RBAC, config, DaemonSet).
//
//go:embed flannel.yaml
var Flannel []byte

// Corefile is kind's CoreDNS configuration without its `forward` to the
// node's resolver: the lab must not send DNS queries off the machine (about
// one a second were measured otherwise, lab-facts.md). Names outside
// cluster.local simply fail to resolve.
//
//go:embed Corefile
var Corefile string
