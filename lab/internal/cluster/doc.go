// Package cluster manages the lab's kind cluster through kind's Go API
// (sigs.k8s.io/kind/pkg/cluster): create it or reuse and repair the one that
// is up, put files and images into its nodes, export its logs, delete it.
// It knows nothing about what runs on the cluster; see package kube for that.
package cluster
