package server

import (
	"context"
	"net"
	"net/http"
	"syscall"

	cnitypes "github.com/containernetworking/cni/pkg/types"
)

// SelfCallDetector tells whether a process runs inside a delegate call the
// daemon is making for a container (*delegate.Exec implements it).
type SelfCallDetector interface {
	InDelegateOf(pid int, containerID string) bool
}

// connKey carries the request's connection in its context.
type connKey struct{}

// withConn is the http.Server's ConnContext: the connection is kept so
// that its peer can be asked for, only when a check needs it.
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// peerPID returns the PID of the process on the other end of the request's
// unix socket (SO_PEERCRED), or 0 when unknown (another transport, or a
// process outside the daemon's PID namespace).
func peerPID(r *http.Request) int {
	uc, ok := r.Context().Value(connKey{}).(*net.UnixConn)
	if !ok {
		return 0
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0
	}
	var (
		cred    *syscall.Ucred
		credErr error
	)
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || credErr != nil || cred == nil {
		return 0
	}
	return int(cred.Pid)
}

// selfCall refuses a request that comes from inside one of the daemon's
// own delegate calls for the same container: that delegate is Multus
// again (a NAD whose type is a copy of the shim), and its request would
// wait for the container lock its caller holds until delegateTimeout,
// holding a delegate slot all along. It is checked before any slot or
// lock is taken, and costs nothing while no delegate of the container
// runs.
func (s *Server) selfCall(r *http.Request, inv *decodedRequest) *cnitypes.Error {
	if s.opts.SelfCalls == nil || inv.ContainerID == "" {
		return nil
	}
	pid := peerPID(r)
	if pid == 0 || !s.opts.SelfCalls.InDelegateOf(pid, inv.ContainerID) {
		return nil
	}
	return cniErr(cnitypes.ErrInvalidNetworkConfig,
		"%s: refused: the request comes from inside a delegate call of the same container (process %d), so a delegate is Multus itself; fix the network-attachment-definition whose plugin calls multus",
		describe(inv), pid)
}
