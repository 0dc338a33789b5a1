// Package image builds container images without a registry or a docker daemon: an empty
// image, layers appended from files, directories or tarballs, and a config, written as a
// docker-archive tarball that `docker load`, `kind load image-archive` and
// `ctr images import` all accept.
package image

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/multus-thick/multus-thick/lab/internal/atomicfile"
)

// File puts one file from the host into a layer.
type File struct {
	Src  string      // path on the host
	Dst  string      // absolute path in the image
	Mode fs.FileMode // permission bits; 0 keeps the source's
}

// Layer is one layer: exactly one of Tarball, Dir or Files (plus optional Symlinks).
type Layer struct {
	Tarball  string            // an existing tar (gzipped or not), used as is
	Dir      string            // a directory copied under DirPrefix ("/" when empty)
	DirPref  string            // where Dir lands in the image
	Files    []File            // single files
	Symlinks map[string]string // image path -> link target
}

// Config is the part of the image config the lab sets.
type Config struct {
	Entrypoint []string
	Cmd        []string
	Env        []string // KEY=value
	WorkingDir string
	User       string
	Labels     map[string]string
}

// Spec is a whole image.
type Spec struct {
	Ref    string // the tag written into the archive, e.g. registry.k8s.io/pause:3.10.2
	Layers []Layer
	Config Config
}

// DefaultPath is the PATH images get unless their Env sets one.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Write builds spec and writes it as a docker archive to out, atomically. Temporary layer
// tarballs go next to out and are removed afterwards.
func Write(spec Spec, out string) error {
	tag, err := name.NewTag(spec.Ref)
	if err != nil {
		return fmt.Errorf("image ref %q: %w", spec.Ref, err)
	}
	tmpDir, err := os.MkdirTemp(filepath.Dir(out), ".layers-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmpDir)
	img := empty.Image
	for i, l := range spec.Layers {
		layer, err := buildLayer(l, filepath.Join(tmpDir, fmt.Sprintf("layer%d.tar", i)))
		if err != nil {
			return fmt.Errorf("image %s layer %d: %w", spec.Ref, i, err)
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			return err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Entrypoint = spec.Config.Entrypoint
	cf.Config.Cmd = spec.Config.Cmd
	cf.Config.Env = withPath(spec.Config.Env)
	cf.Config.WorkingDir = spec.Config.WorkingDir
	cf.Config.User = spec.Config.User
	cf.Config.Labels = spec.Config.Labels
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	// Durable: an image tarball counts as built because it exists.
	return atomicfile.Replace(out, atomicfile.Durable, func(tmp string) error {
		if err := tarball.WriteToFile(tmp, tag, img); err != nil {
			return fmt.Errorf("write image %s: %w", spec.Ref, err)
		}
		return nil
	})
}

func withPath(env []string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			return env
		}
	}
	return append([]string{DefaultPath}, env...)
}

func buildLayer(l Layer, scratch string) (v1.Layer, error) {
	if l.Tarball != "" {
		return tarball.LayerFromFile(l.Tarball)
	}
	f, err := os.Create(scratch)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(f)
	w := &layerWriter{tw: tw, dirs: map[string]bool{}}
	if l.Dir != "" {
		err = w.addDir(l.Dir, l.DirPref)
	}
	for _, file := range l.Files {
		if err == nil {
			err = w.addFile(file)
		}
	}
	links := make([]string, 0, len(l.Symlinks))
	for p := range l.Symlinks {
		links = append(links, p)
	}
	sort.Strings(links)
	for _, p := range links {
		if err == nil {
			err = w.addSymlink(p, l.Symlinks[p])
		}
	}
	if cerr := tw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromFile(scratch)
}

// layerWriter writes tar entries with root ownership, adding parent directories once.
type layerWriter struct {
	tw   *tar.Writer
	dirs map[string]bool
}

func clean(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }

func (w *layerWriter) parents(p string) error {
	dir := path.Dir(p)
	if dir == "." || dir == "/" || w.dirs[dir] {
		return nil
	}
	if err := w.parents(dir); err != nil {
		return err
	}
	w.dirs[dir] = true
	return w.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755})
}

func (w *layerWriter) addFile(f File) error {
	st, err := os.Stat(f.Src)
	if err != nil {
		return err
	}
	mode := f.Mode
	if mode == 0 {
		mode = st.Mode().Perm()
	}
	dst := clean(f.Dst)
	if err := w.parents(dst); err != nil {
		return err
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: dst, Mode: int64(mode), Size: st.Size(), ModTime: st.ModTime()}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return err
	}
	in, err := os.Open(f.Src)
	if err != nil {
		return err
	}
	defer in.Close()
	_, err = io.Copy(w.tw, in)
	return err
}

func (w *layerWriter) addSymlink(p, target string) error {
	dst := clean(p)
	if err := w.parents(dst); err != nil {
		return err
	}
	return w.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: dst, Linkname: target, Mode: 0o777})
}

func (w *layerWriter) addDir(src, prefix string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		dst := clean(path.Join("/", prefix, filepath.ToSlash(rel)))
		if dst == "" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := w.parents(dst); err != nil {
				return err
			}
			if !w.dirs[dst] {
				w.dirs[dst] = true
				return w.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dst + "/", Mode: int64(info.Mode().Perm())})
			}
			return nil
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return w.addSymlink(dst, target)
		case info.Mode().IsRegular():
			return w.addFile(File{Src: p, Dst: dst, Mode: info.Mode().Perm()})
		}
		return nil // sockets, devices: not image material
	})
}

// Tags returns the tags recorded in a docker archive.
func Tags(archive string) ([]string, error) {
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(archive) })
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", archive, err)
	}
	var tags []string
	for _, d := range m {
		tags = append(tags, d.RepoTags...)
	}
	return tags, nil
}
