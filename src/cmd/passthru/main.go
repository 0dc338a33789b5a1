// Command passthru is a no-op CNI plugin: the head of the auxiliary CNI
// chain (auxiliaryCNIChainName), so that the plugins after it run as a
// chain on the pod. ADD returns the prevResult it got, or an empty result.
package main

import (
	"encoding/json"

	"github.com/containernetworking/cni/pkg/skel"
	cnitypes "github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/types/create"
	cniversion "github.com/containernetworking/cni/pkg/version"
)

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add:    add,
		Del:    func(*skel.CmdArgs) error { return nil },
		Check:  func(*skel.CmdArgs) error { return nil },
		GC:     func(*skel.CmdArgs) error { return nil },
		Status: func(*skel.CmdArgs) error { return nil },
	}, cniversion.All, "passthru: no-op head of the auxiliary CNI chain")
}

func add(args *skel.CmdArgs) error {
	conf := &cnitypes.NetConf{}
	if err := json.Unmarshal(args.StdinData, conf); err != nil {
		return &cnitypes.Error{Code: cnitypes.ErrDecodingFailure, Msg: "passthru: " + err.Error()}
	}
	var result cnitypes.Result = &current.Result{CNIVersion: current.ImplementedSpecVersion}
	if conf.RawPrevResult != nil {
		raw, err := json.Marshal(conf.RawPrevResult)
		if err != nil {
			return err
		}
		if result, err = create.Create(conf.CNIVersion, raw); err != nil {
			return &cnitypes.Error{Code: cnitypes.ErrDecodingFailure, Msg: "passthru: prevResult: " + err.Error()}
		}
	}
	return cnitypes.PrintResult(result, conf.CNIVersion)
}
