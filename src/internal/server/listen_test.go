package server

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multus-thick/multus-thick/src/api"
)

func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func TestListen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(t *testing.T, sockDir string)
		wantErr string
		check   func(t *testing.T, sockDir string)
	}{
		{name: "creates dir 0700 and socket 0600", check: func(t *testing.T, sockDir string) {
			fi, err := os.Stat(sockDir)
			if err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("dir mode %v, %v", fi.Mode(), err)
			}
			fi, err = os.Lstat(api.SocketPath(sockDir))
			if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
				t.Errorf("socket mode %v, %v", fi.Mode(), err)
			}
		}},
		{name: "socket dir is a file", wantErr: "is not a directory", prepare: func(t *testing.T, sockDir string) {
			if err := os.WriteFile(sockDir, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "tightens an existing dir and keeps other files", prepare: func(t *testing.T, sockDir string) {
			if err := os.Mkdir(sockDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(sockDir, "keep"), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, check: func(t *testing.T, sockDir string) {
			if fi, _ := os.Stat(sockDir); fi.Mode().Perm() != 0o700 {
				t.Errorf("dir mode %v", fi.Mode())
			}
			if _, err := os.Stat(filepath.Join(sockDir, "keep")); err != nil {
				t.Errorf("other file removed: %v", err)
			}
		}},
		{name: "replaces a stale socket", prepare: func(t *testing.T, sockDir string) {
			if err := os.Mkdir(sockDir, 0o700); err != nil {
				t.Fatal(err)
			}
			l, err := net.ListenUnix("unix", &net.UnixAddr{Name: api.SocketPath(sockDir), Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			l.SetUnlinkOnClose(false)
			_ = l.Close()
		}},
		{name: "refuses a regular file at the socket path", wantErr: "is not a socket", prepare: func(t *testing.T, sockDir string) {
			if err := os.Mkdir(sockDir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(api.SocketPath(sockDir), []byte("data"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sockDir := filepath.Join(tempDir(t), "run")
			if tc.prepare != nil {
				tc.prepare(t, sockDir)
			}
			l, err := Listen(sockDir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), sockDir) {
					t.Fatalf("err = %v, want %q naming %s", err, tc.wantErr, sockDir)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if tc.check != nil {
				tc.check(t, sockDir)
			}
		})
	}
}

func TestListenerCloseSparesReplacementSocket(t *testing.T) {
	t.Parallel()
	sockDir := filepath.Join(tempDir(t), "run")
	old, err := Listen(sockDir)
	if err != nil {
		t.Fatal(err)
	}
	replacement, err := Listen(sockDir) // the next daemon starts before the old one exits
	if err != nil {
		t.Fatal(err)
	}
	// The path now leads to the replacement, and the bind-then-rename
	// leaves no temporary name behind.
	accepted := make(chan error, 1)
	go func() {
		c, err := replacement.Accept()
		if err == nil {
			_ = c.Close()
		}
		accepted <- err
	}()
	c, err := net.Dial("unix", api.SocketPath(sockDir))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	if err := <-accepted; err != nil {
		t.Fatalf("replacement did not get the connection: %v", err)
	}
	if entries, _ := os.ReadDir(sockDir); len(entries) != 1 {
		t.Errorf("socket dir holds %d entries, want only %s", len(entries), api.SocketName)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(api.SocketPath(sockDir)); err != nil {
		t.Fatalf("old daemon removed the replacement's socket: %v", err)
	}
	if err := replacement.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(api.SocketPath(sockDir)); !os.IsNotExist(err) {
		t.Fatalf("own socket left behind: %v", err)
	}
}
