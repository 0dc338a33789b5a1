package testutil

import (
	"os"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
)

// RequireRoot skips the test unless it runs as root, which the netns tier
// needs (it creates namespaces and links).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("netns tests need root")
	}
}

// NewNetns creates a throwaway, bind-mounted network namespace, closed and
// unmounted when the test ends.
func NewNetns(t testing.TB) ns.NetNS {
	t.Helper()
	n, err := testutils.NewNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = n.Close()
		_ = testutils.UnmountNS(n)
	})
	return n
}
