// Package version holds build information set with -ldflags -X.
package version

import "fmt"

// Set at build time, for example:
//
//	-ldflags "-X github.com/multus-thick/multus-thick/src/internal/version.Version=v0.1.0"
var (
	Version = "dev"
	Commit  = "unknown"
	Date    = "unknown"
)

// String formats the build information for -version output.
func String(program string) string {
	return fmt.Sprintf("%s: version:%s, commit:%s, date:%s", program, Version, Commit, Date)
}
