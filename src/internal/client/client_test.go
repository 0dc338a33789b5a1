package client_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	cnitypes "github.com/containernetworking/cni/pkg/types"

	"github.com/multus-thick/multus-thick/fixtures"
	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/client"
	"github.com/multus-thick/multus-thick/src/internal/testutil/fakedaemon"
)

func TestCNIAgainstUpstreamShapedAnswers(t *testing.T) {
	cases := []struct {
		name       string
		reply      fakedaemon.Reply
		wantResult string // substring of Result; "" means empty
		wantCode   uint   // 0 means success
		wantMsg    string
	}{
		{
			name:       "ADD result with capital R",
			reply:      fakedaemon.Reply{Status: 200, Body: fixtures.MustRead("wire/add-response-upstream.json")},
			wantResult: `"10.244.1.5/24"`,
		},
		{
			name:  "DEL empty body",
			reply: fakedaemon.Reply{Status: 200},
		},
		{
			name:     "CNI error keeps its code",
			reply:    fakedaemon.Reply{Status: 400, Body: fixtures.MustRead("wire/error-cni-upstream.json"), ContentType: "application/json"},
			wantCode: 11,
			wantMsg:  "plugin busy, try again",
		},
		{
			name:     "upstream text error becomes ErrInternal with the text",
			reply:    fakedaemon.Reply{Status: 400, Body: fixtures.MustRead("wire/error-text-upstream.txt"), ContentType: "text/plain"},
			wantCode: cnitypes.ErrInternal,
			wantMsg:  `failed to find plugin "macvlan"`,
		},
		{
			name:     "empty error body names the status",
			reply:    fakedaemon.Reply{Status: 500},
			wantCode: cnitypes.ErrInternal,
			wantMsg:  "answered 500",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := fakedaemon.Start(t)
			d.SetReply(tc.reply)
			c := client.New(api.SocketPath(d.Dir))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			resp, err := c.CNI(ctx, &api.Request{Env: map[string]string{"CNI_COMMAND": "ADD"}, Config: []byte(`{}`)})
			if tc.wantCode != 0 {
				var cniErr *cnitypes.Error
				if !errors.As(err, &cniErr) {
					t.Fatalf("error %v is not a CNI error", err)
				}
				if cniErr.Code != tc.wantCode || !strings.Contains(cniErr.Msg, tc.wantMsg) {
					t.Fatalf("got code %d msg %q, want code %d msg containing %q", cniErr.Code, cniErr.Msg, tc.wantCode, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("CNI: %v", err)
			}
			if tc.wantResult == "" && len(resp.Result) != 0 {
				t.Fatalf("Result = %s, want empty", resp.Result)
			}
			if !strings.Contains(string(resp.Result), tc.wantResult) {
				t.Fatalf("Result = %s, want it to contain %s", resp.Result, tc.wantResult)
			}
			if got := d.Requests(); len(got) != 1 || got[0].Env["CNI_COMMAND"] != "ADD" || string(got[0].Config) != `{}` {
				t.Fatalf("daemon received %+v", got)
			}
		})
	}
}

func TestProbesAndWaitReady(t *testing.T) {
	d := fakedaemon.Start(t)
	c := client.New(api.SocketPath(d.Dir))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Healthz(ctx); err != nil {
		t.Fatalf("Healthz: %v", err)
	}
	d.SetReady(false)
	if err := c.Readyz(ctx); !errors.Is(err, client.ErrNotReady) {
		t.Fatalf("Readyz on a draining daemon = %v, want ErrNotReady", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if err := c.WaitReady(short, 20*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReady on a never-ready daemon = %v, want deadline exceeded", err)
	}
	go func() { time.Sleep(100 * time.Millisecond); d.SetReady(true) }()
	if err := c.WaitReady(ctx, 20*time.Millisecond); err != nil {
		t.Fatalf("WaitReady once ready: %v", err)
	}
}

func TestUnreachableDaemon(t *testing.T) {
	c := client.New(api.SocketPath(t.TempDir()))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.CNI(ctx, &api.Request{}); !errors.Is(err, client.ErrNotReady) {
		t.Fatalf("CNI without a daemon = %v, want ErrNotReady", err)
	}
}

func TestReadResponseFraming(t *testing.T) {
	cases := []struct {
		name     string
		raw      string
		wantCode int
		wantBody string
		wantErr  bool
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, "hello", false},
		{"chunked with trailer", "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-T: 1\r\n\r\n", 400, "abcde", false},
		{"until close", "HTTP/1.0 200 OK\r\n\r\nrest of it", 200, "rest of it", false},
		{"LF only", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", 200, "ok", false},
		{"bad status line", "SSH-2.0\r\n\r\n", 0, "", true},
		{"bad content length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, "", true},
		{"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 0, "", true},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, "", true},
		{"empty", "", 0, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body, err := client.ReadResponseForTest(bufio.NewReader(strings.NewReader(tc.raw)))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %d %q", code, body)
				}
				return
			}
			if err != nil || code != tc.wantCode || string(body) != tc.wantBody {
				t.Fatalf("got %d %q %v, want %d %q", code, body, err, tc.wantCode, tc.wantBody)
			}
		})
	}
}

// The real net/http server frames large bodies with chunked encoding.
func TestLargeChunkedResult(t *testing.T) {
	d := fakedaemon.Start(t)
	big := `{"Result":{"cniVersion":"1.0.0","dns":{"search":["` + strings.Repeat("x", 64<<10) + `"]}}}`
	d.SetReply(fakedaemon.Reply{Status: http.StatusOK, Body: []byte(big)})
	c := client.New(api.SocketPath(d.Dir))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.CNI(ctx, &api.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Result) < 64<<10 {
		t.Fatalf("Result truncated to %d bytes", len(resp.Result))
	}
}
