package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServiceAccountDir is where client-go's in-cluster config reads the token,
// the CA and the namespace; a fixed path, with no override.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// inCluster is what a daemon that only knows in-cluster credentials needs:
// the service's address in its environment and a service-account mount.
type inCluster struct {
	env []string // KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT
	dir string   // holds token, ca.crt, namespace; bind-mounted at ServiceAccountDir
}

// writeInCluster writes the service-account files for a daemon into dir and
// returns the view. server is the API server's URL (https://host:port).
func writeInCluster(dir, server string, token, caPEM []byte, namespace string) (inCluster, error) {
	u, err := url.Parse(server)
	if err != nil {
		return inCluster{}, fmt.Errorf("API server URL %q: %w", server, err)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || u.Scheme != "https" || host == "" {
		return inCluster{}, fmt.Errorf("API server URL %q: want https://host:port", server)
	}
	if len(token) == 0 || len(caPEM) == 0 || namespace == "" {
		return inCluster{}, errors.New("service-account view: token, CA and namespace are all required")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return inCluster{}, err
	}
	for name, data := range map[string][]byte{"token": token, "ca.crt": caPEM, "namespace": []byte(namespace)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return inCluster{}, err
		}
	}
	return inCluster{env: []string{"KUBERNETES_SERVICE_HOST=" + host, "KUBERNETES_SERVICE_PORT=" + port}, dir: dir}, nil
}

// serviceAccountToken makes a token for a service account bound to
// cluster-admin: the bench cluster is throwaway, and a daemon under test
// must not fail on RBAC it was never given here.
func (c *cluster) serviceAccountToken(ctx context.Context, namespace, name string) ([]byte, error) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	if _, err := c.core.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("service account %s/%s: %w", namespace, name, err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "mt-bench-" + name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: namespace}},
	}
	if _, err := c.core.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("cluster role binding for %s: %w", name, err)
	}
	exp := int64((2 * time.Hour).Seconds())
	tr, err := c.core.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("token for %s/%s: %w", namespace, name, err)
	}
	return []byte(tr.Status.Token), nil
}

// mountPoint makes sure target exists to bind-mount onto, in its real
// place (/var/run is a symlink to /run), and returns that path and the
// function that removes the directories it created, leaving the host as it
// was. Only empty directories are removed: the mount itself lives in the
// daemon's namespace and goes with it.
func mountPoint(target string) (string, func() error, error) {
	existing, rest := filepath.Clean(target), ""
	for {
		if _, err := os.Lstat(existing); err == nil {
			break
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = filepath.Dir(existing)
	}
	base, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return "", nil, err
	}
	real := filepath.Join(base, rest)
	if err := os.MkdirAll(real, 0o755); err != nil {
		return "", nil, err
	}
	var created []string
	if rest != "" {
		parts := strings.Split(rest, string(filepath.Separator))
		for i := len(parts); i > 0; i-- {
			created = append(created, filepath.Join(base, filepath.Join(parts[:i]...)))
		}
	}
	undo := func() error {
		var errs []error
		for _, d := range created {
			if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	return real, undo, nil
}

// startInMountNS starts cmd in a mount namespace of its own in which dir
// is bind-mounted read-only at target; nothing changes in the host's
// namespace. The namespace is made on a locked OS thread that forks the
// child and then stays with it until it exits (wait), because
// Pdeathsig fires when the thread that forked the child ends. Mounts keep
// propagating from the host (slave), so network namespaces created later
// under /run/netns are visible to the daemon and its delegates.
func startInMountNS(cmd *exec.Cmd, dir, target string, wait func(error)) error {
	started := make(chan error, 1)
	go func() {
		// Never unlocked: the thread's namespace is not the process's, so
		// the runtime must discard the thread when this goroutine ends.
		runtime.LockOSThread()
		err := func() error {
			if err := syscall.Unshare(syscall.CLONE_NEWNS); err != nil {
				return fmt.Errorf("unshare mount namespace: %w", err)
			}
			if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_SLAVE, ""); err != nil {
				return fmt.Errorf("make mounts slave: %w", err)
			}
			if err := syscall.Mount(dir, target, "", syscall.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind %s at %s: %w", dir, target, err)
			}
			if err := syscall.Mount("", target, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
				return fmt.Errorf("remount %s read-only: %w", target, err)
			}
			return cmd.Start()
		}()
		started <- err
		if err == nil {
			wait(cmd.Wait())
		}
	}()
	return <-started
}

// freeLoopbackPort asks the kernel for a free TCP port on 127.0.0.1.
func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
