package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"reflect"
	"strings"
)

// decodeKeys decodes each known key of raw into its field of c, one key at
// a time, so that a type error names the key it came from (encoding/json
// does not say which key a custom unmarshaler failed on).
func decodeKeys(raw map[string]json.RawMessage, c *Config) error {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		key, value, ok := lookupFold(raw, name)
		if !ok {
			continue
		}
		if err := json.Unmarshal(value, v.Field(i).Addr().Interface()); err != nil {
			return keyErr(key, "%s", describe(err))
		}
	}
	return nil
}

// lookupFold finds key in raw, preferring the exact spelling, then any
// case-insensitive match (what encoding/json would pick).
func lookupFold(raw map[string]json.RawMessage, key string) (string, json.RawMessage, bool) {
	if v, ok := raw[key]; ok {
		return key, v, true
	}
	for k, v := range raw {
		if strings.EqualFold(k, key) {
			return k, v, true
		}
	}
	return "", nil, false
}

func describe(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		where := ""
		if te.Field != "" {
			where = fmt.Sprintf(" at %q", te.Field)
		}
		return fmt.Sprintf("want %s, got %s%s", te.Type, te.Value, where)
	}
	return err.Error()
}

var logLevels = map[string]bool{"panic": true, "error": true, "verbose": true, "debug": true}

// normalizeLogLevel lower-cases logLevel; an unknown level is a warning and
// the default level, because upstream only complains on stderr and carries
// on, and a daemon that refuses a config upstream runs is no drop-in.
func (c *Config) normalizeLogLevel() {
	level := strings.ToLower(c.LogLevel)
	if !logLevels[level] {
		c.warn("logLevel", "unknown level %q (want panic, error, verbose or debug); using %s", c.LogLevel, DefaultLogLevel)
		level = DefaultLogLevel
	}
	c.LogLevel = level
}

// validate checks values (types were checked by decodeKeys). Each error
// names its key.
func (c *Config) validate() error {
	var errs []error
	check := func(bad bool, key, format string, args ...any) {
		if bad {
			errs = append(errs, keyErr(key, format, args...))
		}
	}
	if c.Has("connectionLimit") {
		check(c.ConnectionLimit <= 0, "connectionLimit", "must be > 0, got %d", c.ConnectionLimit)
	}
	if c.Has("metricsPort") {
		check(c.MetricsPort <= 0 || c.MetricsPort > 65535, "metricsPort", "must be a port in 1-65535, got %d", c.MetricsPort)
	}
	check(c.SocketDir == "", "socketDir", "must not be empty")
	check(c.MaxConcurrentDelegates <= 0, "maxConcurrentDelegates", "must be > 0, got %d", c.MaxConcurrentDelegates)
	check(c.APIQPS <= 0, "apiQPS", "must be > 0, got %v", c.APIQPS)
	check(c.APIBurst <= 0, "apiBurst", "must be > 0, got %d", c.APIBurst)
	for key, d := range map[string]Duration{
		"delegateTimeout": c.DelegateTimeout, "requestTimeout": c.RequestTimeout,
		"shutdownGracePeriod": c.ShutdownGracePeriod, "podLookupTimeout": c.PodLookupTimeout,
		"apiTimeout": c.APITimeout, "nadRetryTimeout": c.NADRetryTimeout,
		"readinessIndicatorTimeout": c.ReadinessTimeout,
		"deleteRetryBackoff":        c.DeleteRetryBackoff, "deleteRetryMaxAge": c.DeleteRetryMaxAge,
		"reconcileInterval": c.ReconcileInterval,
	} {
		check(d <= 0, key, "must be > 0, got %s", d.D())
	}
	for key, n := range map[string]int{
		"maxNetworksPerPod": c.MaxNetworksPerPod, "maxNADConfigBytes": c.MaxNADConfigBytes,
		"maxRequestBytes": c.MaxRequestBytes, "maxDelegatesPerPod": c.MaxDelegatesPerPod,
	} {
		check(n <= 0, key, "must be > 0, got %d", n)
	}
	check(c.RequestBodyTimeout <= 0, "requestBodyTimeout", "must be > 0, got %s", c.RequestBodyTimeout.D())
	if _, err := c.MemoryLimitBytes(); err != nil {
		errs = append(errs, keyErr("memoryLimit", "%v", err))
	}
	switch c.AddedInterfaceEvents {
	case EventsPerInterface, EventsPerPod, EventsNone:
	default:
		errs = append(errs, keyErr("addedInterfaceEvents", "want %q, %q or %q, got %q",
			EventsPerInterface, EventsPerPod, EventsNone, c.AddedInterfaceEvents))
	}
	check(c.MetricsBindAddress != "" && net.ParseIP(c.MetricsBindAddress) == nil, "metricsBindAddress",
		"must be an IP address, got %q", c.MetricsBindAddress)
	for key, d := range map[string]Duration{
		"shimReadinessTimeout": c.ShimReadinessTimeout, "shimTimeout": c.ShimTimeout,
		"shutdownDrainPeriod": c.ShutdownDrainPeriod, "primarySettlePeriod": c.PrimarySettlePeriod,
	} {
		check(d < 0, key, "must not be negative, got %s", d.D())
	}
	check(c.LogOptions.MaxSize < 0 || c.LogOptions.MaxAge < 0 || c.LogOptions.MaxBackups < 0,
		"logOptions", "values must not be negative")
	if c.Auto() {
		check(c.MultusAutoconfigDir == "", "multusAutoconfigDir", `must be set when "multusConfigFile" is "auto"`)
		check(c.CNIVersion == "", "cniVersion", `must be set when "multusConfigFile" is "auto"`)
		check(strings.ContainsRune(c.MultusMasterCNI, filepath.Separator), "multusMasterCNI",
			"must be a file name inside multusAutoconfigDir, got %q", c.MultusMasterCNI)
	} else {
		check(c.MultusConfigFile == "", "multusConfigFile", `must be "auto" or a path`)
	}
	check(c.CNIConfigDir == "", "cniConfigDir", "must not be empty")
	return errors.Join(errs...)
}
