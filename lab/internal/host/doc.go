// Package host prepares the machine the lab runs on: a docker engine that can run kind's
// privileged nodes on hosts without systemd and without CAP_SYS_RESOURCE (EnsureDocker), and
// the egress guard that keeps every lab packet on the machine (EnsureGuard, RemoveGuard,
// GuardCounter). Every function is idempotent.
package host
