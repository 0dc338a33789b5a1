//go:build e2e

package e2eutil

import "strings"

// Retagged names a second tag of image: repo:tag → repo:tag-e2e-upgrade.
func Retagged(image string) string {
	repo, tag := image, "latest"
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		repo, tag = image[:i], image[i+1:]
	}
	return repo + ":" + tag + "-e2e-upgrade"
}

// ContainerdRef is the reference containerd stores an image under: names
// without a registry host get docker.io (and library/ for one-part names).
func ContainerdRef(image string) string {
	first, _, hasSlash := strings.Cut(image, "/")
	if !hasSlash {
		return "docker.io/library/" + image
	}
	if !strings.ContainsAny(first, ".:") && first != "localhost" {
		return "docker.io/" + image
	}
	return image
}
