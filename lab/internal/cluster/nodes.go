package cluster

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
)

// File is a host file to put into every node.
type File struct {
	Src  string // path on the host
	Name string // base name in the node's directory
	Mode int64
}

// installScript unpacks a tar stream next to the target directory's files
// and renames each into place, so a plugin that kubelet or the daemon runs
// meanwhile is never seen half written (a rename replaces the directory
// entry; a process running the old binary keeps its inode).
const installScript = `set -eu
d=$1; t=$d/.mt-lab-stage
rm -rf "$t"; mkdir -p "$t"
tar -x -o -C "$t"
for f in "$t"/* "$t"/.[!.]*; do [ -e "$f" ] && mv -f "$f" "$d/"; done
rmdir "$t"`

// InstallFiles copies files into dir on every node of the cluster, the
// nodes in parallel.
func (c *Cluster) InstallFiles(ctx context.Context, dir string, files []File) error {
	ns, err := c.Nodes()
	if err != nil {
		return err
	}
	archive, err := tarFiles(files)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	for _, n := range ns {
		g.Go(func() error {
			var out bytes.Buffer
			cmd := n.CommandContext(ctx, "sh", "-c", installScript, "sh", dir).
				SetStdin(bytes.NewReader(archive)).SetStdout(&out).SetStderr(&out)
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("install %d files into %s:%s: %w: %s", len(files), n, dir, err, out.String())
			}
			return nil
		})
	}
	return g.Wait()
}

// tarFiles packs files into one archive, to cross into each node in one exec.
func tarFiles(files []File) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		data, err := os.ReadFile(f.Src)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.Src, err)
		}
		hdr := &tar.Header{Name: path.Base(f.Name), Mode: f.Mode, Size: int64(len(data)), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("tar %s: %w", f.Name, err)
		}
		if _, err := tw.Write(data); err != nil {
			return nil, fmt.Errorf("tar %s: %w", f.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	return buf.Bytes(), nil
}

// Image is a docker-archive tarball on the host and what it holds.
type Image struct {
	Tarball string
	Ref     string // the tag kubelet will ask for, e.g. localhost/multus-thick:lab
	ID      string // config digest "sha256:...", what `crictl inspecti` reports as id
}

// LoadImage imports img into every node's containerd, the nodes in
// parallel, unless a node already has Ref at the same ID. It returns the
// nodes it loaded.
func (c *Cluster) LoadImage(ctx context.Context, img Image) ([]string, error) {
	ns, err := c.Nodes()
	if err != nil {
		return nil, err
	}
	var (
		mu     sync.Mutex
		loaded []string
	)
	g, ctx := errgroup.WithContext(ctx)
	for _, n := range ns {
		g.Go(func() error {
			done, err := loadIfDifferent(ctx, n, img)
			if done {
				mu.Lock()
				loaded = append(loaded, n.String())
				mu.Unlock()
			}
			return err
		})
	}
	err = g.Wait()
	slices.Sort(loaded)
	return loaded, err
}

func loadIfDifferent(ctx context.Context, n nodes.Node, img Image) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if id, err := nodeutils.ImageID(n, img.Ref); err == nil && id == img.ID {
		return false, nil
	}
	if err := loadInto(n, img.Tarball); err != nil {
		return false, fmt.Errorf("load %s into %s: %w", img.Ref, n, err)
	}
	id, err := nodeutils.ImageID(n, img.Ref)
	if err != nil {
		return true, fmt.Errorf("%s on %s after import: %w", img.Ref, n, err)
	}
	if id != img.ID {
		return true, fmt.Errorf("%s on %s has id %s after import, want %s", img.Ref, n, id, img.ID)
	}
	return true, nil
}

func loadInto(n nodes.Node, tarball string) error {
	f, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer f.Close()
	return nodeutils.LoadImageArchive(n, io.Reader(f))
}

// Exec runs a command in one node and returns its output.
func Exec(ctx context.Context, n nodes.Node, name string, args ...string) ([]byte, error) {
	var out, errb bytes.Buffer
	if err := n.CommandContext(ctx, name, args...).SetStdout(&out).SetStderr(&errb).Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s on %s: %w: %s", name, n, err, errb.String())
	}
	return out.Bytes(), nil
}
