// Package bake assembles a kind node image on a machine that cannot reach any registry, the
// way `kind build node-image` would: a Debian rootfs from debootstrap, kind's own base files
// from the sigs.k8s.io/kind module, Kubernetes, etcd, CoreDNS, crictl and pause built from
// source, control-plane images built with go-containerregistry and imported into the node's
// containerd, then `docker commit`. Every output is cached by version under the cache
// directory, so a second run takes seconds.
package bake
