// Package fault is cni-fault: a real CNI plugin whose behaviour comes from
// its own network config, for reproducing delegate failures in tests and in
// the lab. It can succeed with a given result, fail a command with a given
// CNI error code, delay, hang, crash, and record every call to a file.
//
// Config keys (besides cniVersion, name, type):
//
//	"fault": {"add": {"code": 11, "msg": "boom", "details": "", "delayMs": 0,
//	                  "hang": false, "crash": false, "times": 0}, "del": {...}, ...}
//	"result": <a CNI result to return on ADD, any version>
//	"recordFile": "/var/log/cni-fault.log"   one JSON line per call
//
// "times": N > 0 applies the fault only to the first N calls of that
// command for each container ID, then the command succeeds: a DEL that
// fails twice and then works. The counts live in <recordFile>.state
// (JSON, under flock), so "times" needs a recordFile.
//
// Without a fault for the command it succeeds: ADD returns "result", else
// the prevResult it was chained after, else one interface named CNI_IFNAME
// in CNI_NETNS with no addresses.
package fault

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	cnitypes "github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/types/create"
)

// Spec scripts one command.
type Spec struct {
	Code    uint   `json:"code,omitempty"`
	Msg     string `json:"msg,omitempty"`
	Details string `json:"details,omitempty"`
	DelayMs int    `json:"delayMs,omitempty"`
	Hang    bool   `json:"hang,omitempty"`
	Crash   bool   `json:"crash,omitempty"`
	// Times > 0: only the first Times calls per container ID fail.
	Times int `json:"times,omitempty"`
}

// Conf is cni-fault's network config.
type Conf struct {
	cnitypes.NetConf
	Fault      map[string]*Spec `json:"fault,omitempty"`
	Result     json.RawMessage  `json:"result,omitempty"`
	RecordFile string           `json:"recordFile,omitempty"`
}

// Record is one line of recordFile.
type Record struct {
	Time        time.Time       `json:"time"`
	Command     string          `json:"command"`
	ContainerID string          `json:"containerID"`
	Netns       string          `json:"netns"`
	IfName      string          `json:"ifname"`
	Args        string          `json:"args"`
	Config      json.RawMessage `json:"config"`
}

// Plugin runs commands; Sleep, Exit and Stderr are injected so tests can
// check delays, crashes and hangs without waiting or dying.
type Plugin struct {
	Stdout io.Writer
	Stderr io.Writer
	Sleep  func(time.Duration)
	Exit   func(code int)
	Now    func() time.Time
}

// Funcs returns the skel callbacks.
func (p *Plugin) Funcs() skel.CNIFuncs {
	return skel.CNIFuncs{
		Add:    func(a *skel.CmdArgs) error { return p.run("ADD", a) },
		Del:    func(a *skel.CmdArgs) error { return p.run("DEL", a) },
		Check:  func(a *skel.CmdArgs) error { return p.run("CHECK", a) },
		GC:     func(a *skel.CmdArgs) error { return p.run("GC", a) },
		Status: func(a *skel.CmdArgs) error { return p.run("STATUS", a) },
	}
}

func (p *Plugin) run(cmd string, args *skel.CmdArgs) error {
	conf := &Conf{}
	if err := json.Unmarshal(args.StdinData, conf); err != nil {
		return &cnitypes.Error{Code: cnitypes.ErrDecodingFailure, Msg: fmt.Sprintf("cni-fault: parse config: %v", err)}
	}
	if err := p.record(conf, cmd, args); err != nil {
		return &cnitypes.Error{Code: cnitypes.ErrIOFailure, Msg: fmt.Sprintf("cni-fault: record: %v", err)}
	}
	spec := conf.Fault[strings.ToLower(cmd)]
	if spec != nil && spec.Times > 0 {
		active, err := countCall(conf.RecordFile, cmd+"/"+args.ContainerID, spec.Times)
		if err != nil {
			return &cnitypes.Error{Code: cnitypes.ErrIOFailure, Msg: fmt.Sprintf("cni-fault: times: %v", err)}
		}
		if !active {
			spec = nil
		}
	}
	if spec != nil {
		if spec.DelayMs > 0 {
			p.Sleep(time.Duration(spec.DelayMs) * time.Millisecond)
		}
		switch {
		case spec.Hang:
			// Block until the caller's deadline kills us.
			for {
				p.Sleep(time.Hour)
			}
		case spec.Crash:
			fmt.Fprintf(p.Stderr, "cni-fault: crashing on %s as configured\n", cmd)
			p.Exit(2)
			return nil
		case spec.Code != 0:
			msg := spec.Msg
			if msg == "" {
				msg = fmt.Sprintf("cni-fault: %s failed as configured", cmd)
			}
			return &cnitypes.Error{Code: spec.Code, Msg: msg, Details: spec.Details}
		}
	}
	if cmd != "ADD" {
		return nil
	}
	result, err := p.result(conf, args)
	if err != nil {
		return &cnitypes.Error{Code: cnitypes.ErrDecodingFailure, Msg: fmt.Sprintf("cni-fault: result: %v", err)}
	}
	versioned, err := result.GetAsVersion(conf.CNIVersion)
	if err != nil {
		return &cnitypes.Error{Code: cnitypes.ErrIncompatibleCNIVersion, Msg: fmt.Sprintf("cni-fault: %v", err)}
	}
	return versioned.PrintTo(p.Stdout)
}

func (p *Plugin) result(conf *Conf, args *skel.CmdArgs) (cnitypes.Result, error) {
	if len(conf.Result) > 0 {
		return create.CreateFromBytes(conf.Result)
	}
	if conf.RawPrevResult != nil {
		raw, err := json.Marshal(conf.RawPrevResult)
		if err != nil {
			return nil, err
		}
		return create.Create(conf.CNIVersion, raw)
	}
	return &current.Result{
		CNIVersion: current.ImplementedSpecVersion,
		Interfaces: []*current.Interface{{Name: args.IfName, Sandbox: args.Netns}},
	}, nil
}

func (p *Plugin) record(conf *Conf, cmd string, args *skel.CmdArgs) error {
	if conf.RecordFile == "" {
		return nil
	}
	line, err := json.Marshal(Record{
		Time: p.Now(), Command: cmd, ContainerID: args.ContainerID, Netns: args.Netns,
		IfName: args.IfName, Args: args.Args, Config: json.RawMessage(args.StdinData),
	})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(conf.RecordFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// One write per record: O_APPEND keeps concurrent callers' lines whole.
	_, werr := f.Write(append(line, '\n'))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return werr
}
