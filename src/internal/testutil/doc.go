// Package testutil holds the helpers the src/ test packages share: the CNI
// spec versions table tests loop over, a goroutine-safe buffer for logs,
// a bounded poll for conditions another goroutine makes true, the
// reference plugins' directory and throwaway network namespaces.
// Subpackages hold bigger fakes (fakedaemon) and the envtest setup
// (envtestutil).
//
// It is imported by tests only; lab/ and scenarios/ cannot import it (it is
// internal to src/).
package testutil
