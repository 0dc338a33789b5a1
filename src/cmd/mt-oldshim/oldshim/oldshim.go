// Package oldshim is mt-oldshim: upstream's DEL behaviour (probe /healthz
// once, give up) on top of our shim for everything else.
package oldshim

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/client"
	"github.com/multus-thick/multus-thick/src/internal/shim"
)

// DefaultLog is where DEL outcomes go unless MT_OLDSHIM_LOG says otherwise.
const DefaultLog = "/var/log/mt-oldshim.log"

// Outcomes written to the log.
const (
	Dropped   = "dropped" // the /healthz probe failed: upstream drops the DEL
	Sent      = "sent"    // the daemon answered the DEL with 200
	Failed    = "failed"  // the daemon answered with an error (upstream logs it, exits 0)
	probeWait = 5 * time.Second
)

// IO is the process boundary (the same as the shim's).
type IO = shim.IO

// Main runs one invocation and returns the exit code.
func Main(ctx context.Context, pio IO) int {
	if pio.Env[api.EnvCommand] != "DEL" {
		return shim.Main(ctx, pio)
	}
	outcome, detail := del(ctx, pio)
	logPath := pio.Env["MT_OLDSHIM_LOG"]
	if logPath == "" {
		logPath = DefaultLog
	}
	line := fmt.Sprintf("%s %s %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), pio.Env[api.EnvContainerID], outcome, detail)
	if err := appendLine(logPath, line); err != nil {
		fmt.Fprintf(pio.Stderr, "mt-oldshim: %v\n", err)
	}
	fmt.Fprint(pio.Stderr, "mt-oldshim: DEL "+line)
	return 0 // upstream's shim exits 0 on every DEL (PR #1084)
}

func del(ctx context.Context, pio IO) (outcome, detail string) {
	stdin, err := io.ReadAll(pio.Stdin)
	if err != nil {
		return Failed, fmt.Sprintf("read stdin: %v", err)
	}
	conf, err := shim.ParseConfig(stdin)
	if err != nil {
		return Failed, err.Error()
	}
	c := client.New(api.SocketPath(conf.SocketDir))
	pctx, cancel := context.WithTimeout(ctx, probeWait)
	defer cancel()
	if err := c.Healthz(pctx); err != nil {
		return Dropped, err.Error()
	}
	env := map[string]string{api.EnvCommand: "DEL"}
	for _, k := range []string{api.EnvContainerID, api.EnvNetns, api.EnvIfName, api.EnvArgs, api.EnvPath} {
		env[k] = pio.Env[k]
	}
	cctx, cancel := context.WithTimeout(ctx, conf.Timeout)
	defer cancel()
	if _, err := c.CNI(cctx, &api.Request{Env: env, Config: stdin}); err != nil {
		return Failed, err.Error()
	}
	return Sent, ""
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := f.WriteString(line); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
