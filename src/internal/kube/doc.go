// Package kube is the daemon's Kubernetes side: the API client, the
// node-filtered pod informer and the NAD informer, and the implementations
// of attach.PodSource, attach.StatusWriter, attach.Events and
// resolve.NADGetter (multus-thick-behaviour.md §3.7, §3.8, §4.1, §4.5,
// §4.11). Device IDs (§4.6) live in package deviceid.
//
// Reads go to the informer caches first and fall back to live GETs whose
// timeouts come from Config (upstream's fixed 50 ms fallback fails on
// high-latency control planes, multus-cni #1461).
package kube
