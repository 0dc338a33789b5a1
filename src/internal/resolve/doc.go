// Package resolve turns the Multus config and a pod's annotations into the
// ordered delegate list of one request (multus-thick-behaviour.md
// §4.2-§4.6, §4.9.5): the cluster network, the defaultNetworks, the
// default-network override, the networks annotation and the auxiliary
// chain. It only resolves: whether the list can be attached (interface
// names, default routes, §4.8, §4.10) is attach's to judge.
//
// It reads NADs only through the NADGetter interface and files only from
// confDir or the paths in the config, so the node core can run it without
// any API server (NADs == nil: files and inline delegates only).
package resolve
