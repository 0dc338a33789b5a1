package attach

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/multus-thick/multus-thick/src/internal/delegate"
)

// A hung delegate must fail the ADD at its deadline and be rolled back,
// instead of hanging the pod's sandbox forever.
func TestHungDelegateFailsAddWithRollback(t *testing.T) {
	forVersions(t, func(t *testing.T, v string) {
		e := newEnv(t, v, clusterNet, net1)
		e.a.runner = delegate.NewRunner(delegate.Config{Exec: e.exec, Timeout: 50 * time.Millisecond})
		e.exec.hook = func(ctx context.Context, c execCall) {
			if c.Command == "ADD" && c.Name == "net-a" {
				<-ctx.Done()
			}
		}
		_, err := e.a.Add(context.Background(), e.req("ADD", "c1"))
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "name=ns/net-a ifname=net1: add: deadline of 50ms exceeded") {
			t.Fatalf("err = %v", err)
		}
		want := []string{"ADD cluster eth0", "ADD net-a net1", "DEL net-a net1", "DEL cluster eth0"}
		if got := e.exec.callStrings(); !reflect.DeepEqual(got, want) {
			t.Errorf("calls = %q, want %q", got, want)
		}
		if _, err := os.Stat(filepath.Join(e.cniDir, "c1")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("scratch cache left: %v", err)
		}
	})
}

// Rollback runs even when the request's own context is gone (the shim
// gave up): cleanup must not be skipped.
func TestRollbackSurvivesCancelledRequest(t *testing.T) {
	e := newEnv(t, "1.0.0", clusterNet, net1)
	ctx, cancel := context.WithCancel(context.Background())
	e.exec.hook = func(_ context.Context, c execCall) {
		if c.Command == "ADD" && c.Name == "net-a" {
			cancel()
		}
	}
	_, err := e.a.Add(ctx, e.req("ADD", "c1"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	want := []string{"ADD cluster eth0", "ADD net-a net1", "DEL net-a net1", "DEL cluster eth0"}
	if got := e.exec.callStrings(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls = %q, want %q", got, want)
	}
}

func TestObserverSeesEveryDelegateCall(t *testing.T) {
	e := newEnv(t, "1.0.0", clusterNet, net1)
	if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err != nil {
		t.Fatal(err)
	}
	want := []string{"bridge add false", "macvlan add false"}
	if !reflect.DeepEqual(e.observer.done, want) {
		t.Errorf("observer = %q, want %q", e.observer.done, want)
	}
}
