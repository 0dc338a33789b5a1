// Package density is the lab density benchmark (`make bench-lab`), in the
// style of kube-burner's node-density-cni run: N pods created at a fixed rate
// and as one burst, for Multus with one macvlan attachment per pod, Multus
// without attachments, and flannel alone (00-multus.conf moved aside on every
// node). It reports pod-ready and sandbox-ready latency and the Multus
// daemon's CPU and peak memory per node from its container's cgroup, and it
// leaves the lab as it found it: its namespace deleted and 00-multus.conf
// back in place, also after a failure or an interrupt.
package density
