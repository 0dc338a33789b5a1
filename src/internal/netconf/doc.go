// Package netconf holds the configuration types the daemon works with: the
// Multus network configuration (00-multus.conf merged with daemon-config), the
// delegate configuration as upstream Multus caches it on disk, and the
// per-network runtime requests. It does no I/O apart from parsing bytes.
package netconf
