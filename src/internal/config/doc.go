// Package config loads, defaults and validates the daemon's configuration:
// daemon-config.json (every upstream key with upstream's defaults, plus
// ours) and the command-line flags, a flag winning over the same key in the
// file. It is the only place that knows key names; everything below the
// composition root receives typed, validated values.
//
// The raw top-level keys of the file are kept as well, because upstream
// copies every one of them over each request's config (the server-side
// override, multus-thick-behaviour.md §2.6).
package config
