// Package kube is the lab's view of a running cluster through client-go:
// server-side apply of manifests (also as a dry run, to validate them),
// waits with deadlines, CoreDNS's Corefile, and the status report.
package kube
