// Command cni-fault is a scriptable CNI plugin for reproducing delegate
// failures; its behaviour comes from its network config (see package fault).
package main

import (
	"os"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	cniversion "github.com/containernetworking/cni/pkg/version"

	"github.com/multus-thick/multus-thick/src/internal/fault"
)

func main() {
	p := &fault.Plugin{Stdout: os.Stdout, Stderr: os.Stderr, Sleep: time.Sleep, Exit: os.Exit, Now: time.Now}
	skel.PluginMainFuncs(p.Funcs(), cniversion.All, "cni-fault: scriptable fault-injection CNI plugin")
}
