// Package integration holds the deviceid package's integration tier: tests
// (build tag "integration") against a real kube-apiserver and etcd started
// by envtest, driving the daemon's ADD path (kube client, resolver,
// device-ID source, attacher) with a recording delegate exec. Run them
// with `make test-integration`.
package integration
