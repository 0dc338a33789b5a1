// Package pins is the one place of the versions the lab and the Makefile build from. The
// Makefile does not repeat them: it includes what `go run ./lab/cmd/pins` prints (make
// assignments, overridable from the command line or the environment), so a bump here is
// a bump everywhere.
package pins

import (
	"fmt"
	"io"
)

const (
	K8s        = "v1.37.2"  // kubelet, kube-apiserver & co., kubeadm, envtest's binaries
	Kind       = "v0.33.0"  // kind's base files and node-image recipe come from this module
	Crictl     = "v1.37.0"  // cri-tools in the node image
	CNIPlugins = "v1.10.0"  // containernetworking/plugins: the reference plugins on every node
	FlannelCNI = "v0.9.1"   // flannel's CNI plugin (flannel-io/cni-plugin)
	Flannel    = "v0.28.10" // flanneld, the lab's cluster network
)

// Var is one pin as the Makefile names it.
type Var struct {
	Name, Value string
}

// Make lists the pins the Makefile uses, under its variable names.
var Make = []Var{
	{"K8S_VERSION", K8s},
	{"CNI_PLUGINS_VERSION", CNIPlugins},
	{"FLANNEL_CNI_VERSION", FlannelCNI},
}

// WriteMake writes Make as make assignments, `NAME ?= value`, one a line.
func WriteMake(w io.Writer) error {
	for _, v := range Make {
		if _, err := fmt.Fprintf(w, "%s ?= %s\n", v.Name, v.Value); err != nil {
			return err
		}
	}
	return nil
}
