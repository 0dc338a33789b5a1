package server

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"

	"github.com/multus-thick/multus-thick/src/api"
)

// Listen creates <socketDir>/multus.sock: the directory 0700, the socket
// 0600. A socket left by an earlier daemon is replaced; nothing else in the
// directory is touched (upstream wipes the whole directory), and a
// non-socket file at the socket path is an error rather than a deletion.
//
// Closing the listener removes the socket only if it is still the one this
// call created, so a daemon that exits after its replacement started does
// not unlink the replacement's socket.
func Listen(socketDir string) (net.Listener, error) {
	if fi, err := os.Stat(socketDir); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("socket dir %q exists and is not a directory", socketDir)
	}
	if err := os.MkdirAll(socketDir, 0o700); err != nil {
		return nil, fmt.Errorf("create socket dir %q: %w", socketDir, err)
	}
	if err := os.Chmod(socketDir, 0o700); err != nil {
		return nil, fmt.Errorf("socket dir %q: %w", socketDir, err)
	}
	path := api.SocketPath(socketDir)
	if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() != fs.ModeSocket {
		return nil, fmt.Errorf("%q exists and is not a socket; refusing to remove it", path)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("socket %q: %w", path, err)
	}
	// Bind beside the path, then rename over it: a running daemon's socket
	// (a surge rollout starts us before it stops) is replaced atomically,
	// so a shim connecting meanwhile reaches one daemon or the other,
	// never a missing path.
	tmp := path + ".new"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("remove stale %q: %w", tmp, err)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %q: %w", tmp, err)
	}
	l.SetUnlinkOnClose(false)
	fail := func(err error) (net.Listener, error) {
		_ = l.Close()
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("socket %q: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("socket %q: %w", path, err)
	}
	return &socketListener{UnixListener: l, path: path, created: fi}, nil
}

type socketListener struct {
	*net.UnixListener
	path    string
	created os.FileInfo
}

func (l *socketListener) Close() error {
	err := l.UnixListener.Close()
	if cur, statErr := os.Lstat(l.path); statErr == nil && os.SameFile(cur, l.created) {
		_ = os.Remove(l.path)
	}
	return err
}
