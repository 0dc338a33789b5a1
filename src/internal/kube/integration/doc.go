// Package integration holds the kube package's integration tier: tests
// (build tag "integration") against a real kube-apiserver and etcd started
// by envtest. Run them with `make test-integration`, which points
// KUBEBUILDER_ASSETS at kube-apiserver, etcd and kubectl.
package integration
