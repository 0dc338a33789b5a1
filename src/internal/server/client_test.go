package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	cnitypes "github.com/containernetworking/cni/pkg/types"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/client"
)

// The shim's own client against this server: the same bytes the shim binary
// sends and decodes.
func TestThroughShimClient(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	c := client.New(ts.socket)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}

	resp, err := c.CNI(ctx, &api.Request{Env: addEnv(), Config: []byte(multusConf)})
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal(resp.Result, &res); err != nil || res["cniVersion"] != "1.0.0" {
		t.Fatalf("result %s: %v", resp.Result, err)
	}

	ts.cni.err = fmt.Errorf("delegate type=macvlan: %w", &cnitypes.Error{Code: 11, Msg: "busy", Details: "retry"})
	_, err = c.CNI(ctx, &api.Request{Env: addEnv(), Config: []byte(multusConf)})
	var ce *cnitypes.Error
	if !errors.As(err, &ce) || ce.Code != 11 || ce.Details != "retry" {
		t.Fatalf("error = %#v", err)
	}

	ts.srv.SetShuttingDown()
	if err := c.Readyz(ctx); !errors.Is(err, client.ErrNotReady) {
		t.Errorf("Readyz while shutting down = %v", err)
	}
	if err := c.Healthz(ctx); err != nil {
		t.Errorf("Healthz while shutting down = %v", err)
	}
}
