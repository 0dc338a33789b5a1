//go:build netns

package bench

import (
	"context"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/multus-thick/multus-thick/src/internal/testutil"
)

// TestHostLifecycle creates namespaces and a veth pair the way a run does and
// checks that the sweep leaves nothing carrying the prefix.
func TestHostLifecycle(t *testing.T) {
	testutil.RequireRoot(t)
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := host{prefix: "mtbt" + randomID(1), ip: ip}
	t.Cleanup(func() { _, _ = h.sweep(context.Background()) })

	names := []string{h.prefix + "-1", h.prefix + "-2", h.prefix + "-3"}
	if err := h.addNetns(ctx, names); err != nil {
		t.Fatal(err)
	}
	if err := h.addVethUp(ctx, h.prefix+"m0", h.prefix+"m1"); err != nil {
		t.Fatal(err)
	}
	gotNS, err := h.ownNetns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(gotNS)
	if !slices.Equal(gotNS, names) {
		t.Fatalf("namespaces %v, want %v", gotNS, names)
	}
	gotLinks, err := h.ownLinks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(gotLinks)
	if want := []string{h.prefix + "m0", h.prefix + "m1"}; !slices.Equal(gotLinks, want) {
		t.Fatalf("links %v, want %v", gotLinks, want)
	}

	n, err := h.sweep(ctx)
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	if n != 5 {
		t.Fatalf("sweep removed %d objects, want 5 (3 namespaces, 2 veth ends)", n)
	}
	if left, _ := h.ownNetns(ctx); len(left) != 0 {
		t.Fatalf("namespaces left: %v", left)
	}
	if left, _ := h.ownLinks(ctx); len(left) != 0 {
		t.Fatalf("links left: %v", left)
	}
}
