// Package integration holds the nodecert and certapprover integration
// tier (build tag "integration"): a real kube-apiserver and etcd started by
// envtest, whose client CA is the test's own, so the test can play the
// cluster's kube-apiserver-client signer. Run it with
// `make test-integration`.
package integration
