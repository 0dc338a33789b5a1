package delegate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	cnitypes "github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// blockingExec blocks every ADD until release is closed (or ctx ends) and
// fails with err when set.
type blockingExec struct {
	entered chan string
	release chan struct{}
	err     error
	version.PluginDecoder
}

func (b *blockingExec) FindInPath(plugin string, paths []string) (string, error) {
	return paths[0] + "/" + plugin, nil
}

func (b *blockingExec) ExecPlugin(ctx context.Context, path string, _ []byte, _ []string) ([]byte, error) {
	if b.entered != nil {
		b.entered <- path
	}
	if b.release != nil {
		select {
		case <-b.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if b.err != nil {
		return nil, b.err
	}
	return []byte(`{"cniVersion":"1.0.0"}`), nil
}

func loadTestDelegate(t *testing.T, raw string) *netconf.Delegate {
	t.Helper()
	d, err := netconf.LoadDelegate([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func rt(ifname string) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{ContainerID: "c1", NetNS: "/x", IfName: ifname}
}

func TestRunnerPoolBoundsConcurrency(t *testing.T) {
	ex := &blockingExec{entered: make(chan string, 1), release: make(chan struct{})}
	r := NewRunner(Config{Exec: ex, MaxConcurrent: 1, Timeout: time.Minute})
	d := loadTestDelegate(t, `{"cniVersion":"1.0.0","name":"n","type":"bridge"}`)
	tg := Target{BinDir: "/bin", CacheDir: t.TempDir()}
	first := make(chan error, 1)
	go func() {
		_, err := r.Add(context.Background(), tg, d, rt("eth0"))
		first <- err
	}()
	<-ex.entered // the only slot is now taken
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := r.Add(ctx, tg, d, rt("net1"))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for a delegate slot") {
		t.Fatalf("second call with the pool full: %v", err)
	}
	close(ex.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}

func TestRunnerErrorsNameTheDelegateOnce(t *testing.T) {
	cases := []struct {
		name     string
		conf     string
		err      error
		want     string
		wantCode uint
	}{
		{name: "plugin error keeps its code", conf: `{"cniVersion":"1.0.0","name":"net-a","type":"macvlan"}`,
			err: cnitypes.NewError(11, "no IP", ""), want: "delegate type=macvlan name=net-a ifname=net1: add: no IP", wantCode: 11},
		{name: "unparsable config", conf: `{"cniVersion":"1.0.0","name":"net-a","plugins":[{"type":"x"}],"cniVersions":"nope"}`,
			want: "delegate type=x name=net-a ifname=net1: add: invalid delegate config"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var done []string
			r := NewRunner(Config{Exec: &blockingExec{err: tc.err}, Done: func(typ, cmd string, _ time.Duration, err error) {
				done = append(done, typ+" "+cmd)
			}})
			_, err := r.Add(context.Background(), Target{BinDir: "/bin", CacheDir: t.TempDir()}, loadTestDelegate(t, tc.conf), rt("net1"))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err = %v, want prefix %q", err, tc.want)
			}
			if strings.Count(err.Error(), "delegate type=") != 1 {
				t.Errorf("delegate named more than once: %v", err)
			}
			var cerr *cnitypes.Error
			if tc.wantCode != 0 && (!errors.As(err, &cerr) || cerr.Code != tc.wantCode) {
				t.Errorf("CNI error lost from the chain: %v", err)
			}
			if tc.wantCode != 0 && len(done) != 1 {
				t.Errorf("Done hook calls = %v", done)
			}
		})
	}
}
