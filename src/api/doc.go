// Package api is the wire contract between multus-shim and multus-daemon.
//
// It is wire-compatible with upstream Multus thick: HTTP/1.1 over the unix
// socket <socketDir>/multus.sock, endpoints /cni, /delegate, /healthz and
// /readyz, a JSON request {env, config, interfaceAttributes} and a JSON
// response {"Result": <CNI 1.0.0 result>}. Errors travel as HTTP 400 with a
// CNI error object {code, msg, details}, so the CNI error code a delegate
// returned reaches the runtime unchanged.
//
// The package imports no Kubernetes library: the shim and the scenarios both
// depend on it.
package api
