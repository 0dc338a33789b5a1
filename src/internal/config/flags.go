package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// Flags is the parsed command line.
type Flags struct {
	// ConfigPath is -config.
	ConfigPath string
	// Version is -version: print the version and exit 0.
	Version bool
	// Overrides maps daemon-config keys to the values of the flags given on
	// the command line; they win over the file.
	Overrides map[string]any
}

// keyFlag is a flag that sets a daemon-config key (§3.1a: the thin
// entrypoint's flags in single-dash form).
type keyFlag struct {
	name, key, usage string
	kind             flagKind
}

type flagKind int

const (
	kindString flagKind = iota
	kindBool
	kindInt
)

var keyFlags = []keyFlag{
	{"metricsPort", "metricsPort", "port of the Prometheus metrics listener (default: off)", kindInt},
	{"cni-conf-dir", "cniConfigDir", "directory 00-multus.conf is written to", kindString},
	{"cni-bin-dir", "binDir", "CNI plugin directory", kindString},
	{"cni-version", "cniVersion", "CNI version of the generated Multus config", kindString},
	{"multus-conf-file", "multusConfigFile", `"auto" or the path of a user-provided Multus config`, kindString},
	{"multus-cni-conf-dir", "confDir", "Multus' own CNI config dir (NADs without spec)", kindString},
	{"multus-autoconfig-dir", "multusAutoconfigDir", "directory searched for the primary CNI config", kindString},
	{"multus-master-cni-file-name", "multusMasterCNI", "primary CNI config file name in the autoconfig dir", kindString},
	{"namespace-isolation", "namespaceIsolation", "pods may use only NADs of their namespace and the global ones", kindBool},
	{"global-namespaces", "globalNamespaces", "comma-separated namespaces whose NADs every pod may use", kindString},
	{"multus-log-level", "logLevel", "panic, error, verbose or debug", kindString},
	{"multus-log-file", "logFile", "log file (rotated)", kindString},
	{"multus-log-to-stderr", "logToStderr", "log to stderr", kindBool},
	{"override-network-name", "overrideNetworkName", "name the Multus network after the primary network", kindBool},
	{"readiness-indicator-file", "readinessindicatorfile", "file whose presence means the primary network is ready", kindString},
	{"skip-config-watch", "skipConfigWatch", "do not watch the primary CNI config for changes", kindBool},
	{"force-cni-version", "forceCNIVersion", "rewrite the primary config's cniVersion (test clusters only)", kindBool},
}

// thinOnly are the thin entrypoint's flags that make no sense for the
// daemon; each is refused with the reason.
var thinOnly = map[string]string{
	"additional-bin-dir":          "the daemon installs no binaries; the init container copies multus-shim",
	"binDir":                      "the daemon installs no binaries; set the binDir key for the plugin directory",
	"cleanup-config-on-exit":      `use the "deleteConfOnExit" daemon-config key`,
	"cniDir":                      `use the "cniDir" daemon-config key`,
	"multus-kubeconfig-file-host": "the daemon uses its own in-cluster client and writes no kubeconfig for the shim",
	"rename-conf-file":            "the daemon never renames the primary CNI config",
	"restart-crio":                "the daemon does not restart the container runtime",
	"skip-multus-binary-copy":     "the daemon installs no binaries",
	"multus-bin-file":             "the daemon installs no binaries; the init container copies multus-shim",
	"skip-tls-verify":             "the shim talks to the daemon over a unix socket, not to the API server",
}

// refused is a flag.Value that fails as soon as the flag is used. It is a
// bool flag so that "-restart-crio" without a value is refused too, rather
// than reported as a missing argument.
type refused struct{ name, reason string }

func (r refused) String() string   { return "" }
func (r refused) IsBoolFlag() bool { return true }
func (r refused) Set(string) error {
	return fmt.Errorf("-%s is a thin-plugin-only flag, refused by multus-daemon: %s", r.name, r.reason)
}

// ParseFlags parses the daemon's command line (without the program name).
// Usage and parse errors are written to out. -h returns flag.ErrHelp.
func ParseFlags(args []string, out io.Writer) (*Flags, error) {
	fs := flag.NewFlagSet("multus-daemon", flag.ContinueOnError)
	fs.SetOutput(out)
	f := &Flags{Overrides: map[string]any{}}
	fs.StringVar(&f.ConfigPath, "config", DefaultPath, "path of daemon-config.json")
	fs.BoolVar(&f.Version, "version", false, "print the version and exit")
	strs, bools, ints := map[string]*string{}, map[string]*bool{}, map[string]*int{}
	for _, kf := range keyFlags {
		usage := fmt.Sprintf("%s (daemon-config key %q)", kf.usage, kf.key)
		switch kf.kind {
		case kindString:
			strs[kf.name] = fs.String(kf.name, "", usage)
		case kindBool:
			bools[kf.name] = fs.Bool(kf.name, false, usage)
		case kindInt:
			ints[kf.name] = fs.Int(kf.name, 0, usage)
		}
	}
	for name, reason := range thinOnly {
		fs.Var(refused{name, reason}, name, "refused: "+reason)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: multus-daemon takes flags only", fs.Arg(0))
	}
	byName := map[string]keyFlag{}
	for _, kf := range keyFlags {
		byName[kf.name] = kf
	}
	// Only flags given on the command line override the file.
	fs.Visit(func(fl *flag.Flag) {
		kf, ok := byName[fl.Name]
		if !ok {
			return
		}
		switch kf.kind {
		case kindString:
			f.Overrides[kf.key] = *strs[kf.name]
		case kindBool:
			f.Overrides[kf.key] = *bools[kf.name]
		case kindInt:
			f.Overrides[kf.key] = *ints[kf.name]
		}
	})
	return f, nil
}

// IsHelp reports whether err is the result of -h / -help.
func IsHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }
