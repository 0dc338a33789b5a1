// Package integration runs package release against a real kube-apiserver
// (envtest, `make test-integration`): the reconciler against the pod
// informer, the retry's event on a pod that still exists.
package integration
