package kube

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// The NAD client's generated fake (v1.7.7) predates watch-list
	// streaming and never sends the initial-events bookmark; a real API
	// server does. client-go reads this gate once, on first use.
	os.Setenv("KUBE_FEATURE_WatchListClient", "false")
	os.Exit(m.Run())
}
