// Package admission holds the integration tier of the daemon's node-scoped
// writes (build tag "integration"): deployments/admission-policy.yaml and
// its binding on a real kube-apiserver started by envtest, exercised with
// real pod-bound service-account tokens. It runs its own API server,
// because the policy refuses every identity without a node in its token,
// which the kube package's suite uses. Run with `make test-integration`.
package admission
