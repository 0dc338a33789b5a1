package actions

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/multus-thick/multus-thick/deployments"
)

// daemonManifest is a DaemonSet (and its objects) the lab can deploy our
// image with, chosen by LAB_MANIFEST.
type daemonManifest struct {
	name    string // the LAB_MANIFEST value
	source  string // what the step line shows
	objects func() ([]*unstructured.Unstructured, error)
}

// daemonManifests: ours (the default) and upstream's shape, which proves
// that our image drops into upstream's DaemonSet.
var daemonManifests = []daemonManifest{
	{name: "ours", source: "deployments/", objects: deployments.Objects},
	{name: "upstream", source: "deployments/" + deployments.UpstreamFile, objects: deployments.UpstreamObjects},
}

// daemonManifest returns the manifest LAB_MANIFEST names (default ours); an
// unknown name is an error before anything is built.
func (e *env) daemonManifest() (daemonManifest, error) {
	name := get(e.vars, "LAB_MANIFEST", daemonManifests[0].name)
	i := slices.IndexFunc(daemonManifests, func(m daemonManifest) bool { return m.name == name })
	if i < 0 {
		names := make([]string, len(daemonManifests))
		for j, m := range daemonManifests {
			names[j] = m.name
		}
		return daemonManifest{}, fmt.Errorf("LAB_MANIFEST=%q: want one of %s", name, strings.Join(names, ", "))
	}
	return daemonManifests[i], nil
}
