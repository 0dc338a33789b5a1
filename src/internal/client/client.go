// Package client is the shim's side of the socket: HTTP over the daemon's
// unix socket, with one http.Client per process, deadlines from the
// caller's context, and decoding of the daemon's CNI errors.
//
// It speaks upstream's protocol, so it works against upstream's daemon too:
// a 400 body is a CNI error object {code,msg,details} when it parses as one,
// plain text otherwise.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	cnitypes "github.com/containernetworking/cni/pkg/types"

	"github.com/multus-thick/multus-thick/src/api"
)

// ErrNotReady means the daemon answered a readiness or health probe with a
// status other than 200, or could not be reached.
var ErrNotReady = errors.New("multus daemon not ready")

// maxResponse bounds what we read from the daemon; a result is a few KiB.
const maxResponse = 4 << 20

// Client talks to one daemon socket. It writes HTTP/1.1 by hand instead of
// using net/http: net/http drags crypto/tls and x509 into the shim, which
// doubles its size and start-up cost, and one POST with Connection: close
// is all the protocol needs.
type Client struct {
	socket string
}

// New returns a client for the socket at socketPath.
func New(socketPath string) *Client { return &Client{socket: socketPath} }

// SocketPath is the socket this client dials.
func (c *Client) SocketPath() string { return c.socket }

// CNI posts a full invocation to /cni. On success it returns the decoded
// response (Result is empty for commands other than ADD).
func (c *Client) CNI(ctx context.Context, req *api.Request) (*api.Response, error) {
	return c.call(ctx, api.PathCNI, req)
}

// Delegate posts a hot-plug invocation to /delegate.
func (c *Client) Delegate(ctx context.Context, req *api.Request) (*api.Response, error) {
	return c.call(ctx, api.PathDelegate, req)
}

// Healthz probes /healthz once.
func (c *Client) Healthz(ctx context.Context) error { return c.probe(ctx, api.PathHealthz) }

// Readyz probes /readyz once.
func (c *Client) Readyz(ctx context.Context) error { return c.probe(ctx, api.PathReadyz) }

// WaitReady polls /readyz every interval until it answers 200 or ctx ends.
// The returned error names the last reason the daemon was not ready.
func (c *Client) WaitReady(ctx context.Context, interval time.Duration) error {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		err := c.Readyz(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %w)", c.socket, ctx.Err(), err)
		case <-ticker.C:
		}
	}
}

func (c *Client) probe(ctx context.Context, path string) error {
	// Upstream's shim posts the JSON encoding of a nil request.
	status, _, err := c.post(ctx, path, []byte("null"))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	if status != 200 {
		return fmt.Errorf("%w: %s answered %d", ErrNotReady, path, status)
	}
	return nil
}

func (c *Client) call(ctx context.Context, path string, req *api.Request) (*api.Response, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	status, data, err := c.post(ctx, path, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	if status != 200 {
		return nil, DecodeError(status, data)
	}
	out := &api.Response{}
	if len(bytes.TrimSpace(data)) == 0 {
		return out, nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return nil, fmt.Errorf("decode %s response: %w", path, err)
	}
	return out, nil
}

// post sends one request on a fresh connection and reads the whole answer.
// ctx bounds everything: dial, write and read.
func (c *Client) post(ctx context.Context, path string, body []byte) (int, []byte, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.socket)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	// Cancellation without a deadline: unblock reads and writes at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: dummy\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nConnection: close\r\n\r\n", path, len(body))
	if _, err := conn.Write(append([]byte(head), body...)); err != nil {
		return 0, nil, fmt.Errorf("write %s: %w", path, err)
	}
	status, data, err := readResponse(bufio.NewReader(conn))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return 0, nil, fmt.Errorf("read %s: %w", path, ctxErr)
		}
		return 0, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return status, data, nil
}

// DecodeError turns a non-200 daemon answer into a *cnitypes.Error. A CNI
// error object keeps its code, message and details (so the delegate's code
// reaches the runtime); any other body becomes ErrInternal with the text.
func DecodeError(status int, body []byte) *cnitypes.Error {
	var cniErr cnitypes.Error
	if err := json.Unmarshal(body, &cniErr); err == nil && cniErr.Msg != "" {
		if cniErr.Code == 0 {
			cniErr.Code = cnitypes.ErrInternal
		}
		return &cniErr
	}
	text := strings.TrimSpace(string(body))
	if text == "" {
		text = fmt.Sprintf("HTTP %d", status)
	}
	return &cnitypes.Error{
		Code: cnitypes.ErrInternal,
		Msg:  fmt.Sprintf("multus daemon answered %d: %s", status, text),
	}
}
