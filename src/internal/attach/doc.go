// Package attach is the daemon's node core: it turns one CNI invocation
// (ADD, DEL, CHECK, GC, STATUS, and the /delegate hot-plug variants) into
// delegate calls, with an explicit rollback stack on ADD, the scratch
// delegate cache in upstream Multus' format, default-route handling and the
// network-status annotation. Kubernetes is reached only through the small
// interfaces in deps.go.
package attach
