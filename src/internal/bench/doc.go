// Package bench measures what a thick CNI meta-plugin (a shim plus a daemon
// speaking the upstream Multus socket protocol) costs a node, side by side
// with the floor: the same delegates invoked directly through libcni.
//
// A run is node-level and happens on the host, the way a container runtime
// would call the plugin: a real kube-apiserver (envtest) holds the NAD CRD,
// a NetworkAttachmentDefinition and pod objects bound to a bench node; every
// pod gets its own network namespace; the shim is executed through libcni
// with the 00-multus.conf the daemon generated. Everything the harness
// creates (namespaces, links, temp dirs, processes) is named with a run
// prefix and removed at the end, also on error or interrupt.
//
// The pure parts (percentiles, /proc parsing, the markdown table and the SVG
// plot) have unit tests; the run itself needs root and is driven by
// cmd/mt-bench and `make bench`.
package bench
