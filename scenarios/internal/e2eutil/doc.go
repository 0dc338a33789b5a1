//go:build e2e

// Package e2eutil holds what the conformance scenarios share: the lab's
// settings, fixture loading with per-test mutation, waits, the two oracles
// for an attachment (the network-status annotation and the pod's netns as
// seen from inside the pod), node-side checks through the kind node
// containers, and the failure diagnostics (pod events, daemon log lines).
//
// Nothing here reads the environment: TestMain builds Settings from its
// environment and hands them down.
package e2eutil
