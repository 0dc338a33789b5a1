package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/client"
	"github.com/multus-thick/multus-thick/src/internal/testutil"
)

// runWithHurry is runDaemon with a hurry channel: signal() ends ctx (the
// first SIGTERM), hurry() is the second.
func runWithHurry(t *testing.T, env Env) (signal, hurry func(), code <-chan int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := make(chan struct{})
	env.Hurry = h
	c := make(chan int, 1)
	go func() { c <- Run(ctx, env) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h:
		default:
			close(h)
		}
	})
	return cancel, func() { close(h) }, c
}

// After the signal the daemon keeps serving everything but /readyz for the
// drain period (here an hour, so only the second signal can end it); the
// second signal ends it, and the socket goes.
func TestDrainServesUntilSecondSignal(t *testing.T) {
	t.Parallel()
	l := newLayout(t)
	l.daemonConfig(t, map[string]any{"shutdownDrainPeriod": "1h"})
	l.primary(t)
	var stderr testutil.SyncBuffer
	backend := &stubBackend{}
	signal, hurry, code := runWithHurry(t, testEnv(l, &stderr, backend))
	c := client.New(api.SocketPath(l.sock))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "ready log", waitBound, func() bool { return strings.Contains(stderr.String(), "msg=ready") })
	signal()
	testutil.Eventually(t, "drain log", waitBound, func() bool { return strings.Contains(stderr.String(), "still serving") })
	if err := c.Readyz(ctx); err == nil {
		t.Error("/readyz answers 200 while draining")
	}
	if err := c.Healthz(ctx); err != nil {
		t.Errorf("/healthz while draining: %v", err)
	}
	if _, err := c.CNI(ctx, &api.Request{Env: map[string]string{"CNI_COMMAND": "STATUS"}, Config: []byte(`{"cniVersion":"0.4.0"}`)}); err != nil {
		t.Errorf("/cni while draining: %v", err)
	}
	select {
	case got := <-code:
		t.Fatalf("daemon exited (%d) during an hour-long drain", got)
	default:
	}
	hurry()
	select {
	case got := <-code:
		if got != 0 {
			t.Errorf("exit code %d", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second signal did not end the drain")
	}
	if !strings.Contains(stderr.String(), "drain period cut short") {
		t.Errorf("no log of the cut-short drain:\n%s", stderr.String())
	}
	if exists(api.SocketPath(l.sock)) {
		t.Error("socket left behind")
	}
}

// A signal during start-up (here: waiting for the readiness file) stops
// at once: no drain, socket removed, exit 0.
func TestSignalDuringStartupSkipsDrain(t *testing.T) {
	t.Parallel()
	l := newLayout(t)
	l.daemonConfig(t, map[string]any{"shutdownDrainPeriod": "1h", "readinessIndicatorTimeout": "1h",
		"readinessindicatorfile": filepath.Join(l.root, "never")})
	l.primary(t)
	var stderr testutil.SyncBuffer
	signal, _, code := runWithHurry(t, testEnv(l, &stderr, &stubBackend{}))
	c := client.New(api.SocketPath(l.sock))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	testutil.Eventually(t, "/healthz", waitBound, func() bool { return c.Healthz(ctx) == nil })
	testutil.Eventually(t, "startup wait", waitBound, func() bool { return strings.Contains(stderr.String(), "waiting for the readiness indicator") })
	signal()
	select {
	case got := <-code:
		if got != 0 {
			t.Errorf("exit code %d", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a signal during start-up did not stop the daemon at once")
	}
	if exists(api.SocketPath(l.sock)) {
		t.Error("socket left behind")
	}
	if strings.Contains(stderr.String(), "still serving") {
		t.Error("drained although start-up had not finished")
	}
}

// A daemon that exits after its replacement took the socket path leaves
// the replacement's socket alone.
func TestStopSparesReplacementSocket(t *testing.T) {
	t.Parallel()
	l := newLayout(t)
	l.daemonConfig(t, nil)
	l.primary(t)
	var stderr testutil.SyncBuffer
	signal, _, code := runWithHurry(t, testEnv(l, &stderr, &stubBackend{}))
	sock := api.SocketPath(l.sock)
	testutil.Eventually(t, "ready log", waitBound, func() bool { return strings.Contains(stderr.String(), "msg=ready") })
	if err := os.Remove(sock); err != nil {
		t.Fatal(err)
	}
	// The replacement's socket: a different file at the same path.
	replacement, err := os.Create(sock)
	if err != nil {
		t.Fatal(err)
	}
	_ = replacement.Close()
	signal()
	if got := <-code; got != 0 {
		t.Errorf("exit code %d", got)
	}
	if !exists(sock) {
		t.Error("the exiting daemon removed its replacement's socket")
	}
}

func TestFromSignals(t *testing.T) {
	t.Parallel()
	sigs := make(chan os.Signal, 3)
	ctx, hurry, stop := fromSignals(sigs)
	defer stop()
	select {
	case <-ctx.Done():
		t.Fatal("stopped before any signal")
	case <-hurry:
		t.Fatal("hurried before any signal")
	default:
	}
	sigs <- syscall.SIGTERM
	<-ctx.Done()
	select {
	case <-hurry:
		t.Fatal("one signal hurried the drain")
	case <-time.After(20 * time.Millisecond):
	}
	sigs <- syscall.SIGTERM
	<-hurry
	sigs <- syscall.SIGINT // a third is absorbed, no panic on a closed channel
	stop()
}
