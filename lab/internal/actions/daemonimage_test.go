package actions

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/multus-thick/multus-thick/deployments"
	"github.com/multus-thick/multus-thick/lab/internal/image"
	"github.com/multus-thick/multus-thick/lab/internal/labimages"
)

func TestParseDaemonImage(t *testing.T) {
	t.Parallel()
	files := map[string]bool{"/tmp/other-build.tar": true, "daemon.image": true}
	isFile := func(p string) bool { return files[p] }
	tests := []struct {
		in      string
		want    daemonImageSource
		wantErr string
	}{
		{in: "", want: daemonImageSource{}},
		{in: "/tmp/other-build.tar", want: daemonImageSource{Tarball: "/tmp/other-build.tar"}},
		{in: "daemon.image", want: daemonImageSource{Tarball: "daemon.image"}},
		{in: "localhost/multus-thick:other", want: daemonImageSource{Ref: "localhost/multus-thick:other"}},
		{in: " ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2-thick ", want: daemonImageSource{Ref: "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.2-thick"}},
		{in: "/tmp/missing.tar", wantErr: "no such tarball"},
		{in: "./build/x.tar.gz", wantErr: "no such tarball"},
		{in: "/srv/images/thick", wantErr: "neither a tarball"},
		{in: "two words", wantErr: "neither a tarball"},
	}
	for _, tc := range tests {
		got, err := parseDaemonImage(tc.in, isFile)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "LAB_DAEMON_IMAGE") {
				t.Errorf("parseDaemonImage(%q) error %v, want one naming LAB_DAEMON_IMAGE and %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseDaemonImage(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// The daemon's containers and init containers, and nothing else, move to
// the other image; a manifest without the daemon's DaemonSet changes
// nothing.
func TestSetImage(t *testing.T) {
	t.Parallel()
	objs, err := deployments.Objects()
	if err != nil {
		t.Fatal(err)
	}
	const other = "localhost/thick-under-test:v2"
	n, err := setImage(objs, other)
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Errorf("%d containers moved, want the daemon and its init container at least", n)
	}
	seen := 0
	for _, o := range objs {
		for _, field := range []string{"containers", "initContainers"} {
			list, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", field)
			for _, c := range list {
				img := c.(map[string]any)["image"]
				if img == labimages.DaemonImage {
					t.Errorf("%s %s still runs %s", o.GetKind(), o.GetName(), img)
				}
				if img == other {
					seen++
				}
			}
		}
	}
	if seen != n {
		t.Errorf("%d containers run %s, setImage said %d", seen, other, n)
	}
	const third = "localhost/thick-under-test:v3"
	if n2, _ := setImage(objs, third); n2 != n {
		t.Errorf("second setImage changed %d containers, want the same %d again", n2, n)
	}
	var others []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() != "DaemonSet" {
			others = append(others, o)
		}
	}
	if n, err := setImage(others, other); n != 0 || err != nil {
		t.Errorf("setImage without the DaemonSet = %d, %v; want 0, nil", n, err)
	}
}

// A docker-archive tarball is deployed under its own tag with its config
// digest as the ID; one without a tag is refused.
func TestDaemonImageFromTarball(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "multus-daemon")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(dir, "other.tar")
	spec := image.Spec{Ref: "localhost/multus-thick:conformance", Layers: []image.Layer{{Files: []image.File{{Src: bin, Dst: "/usr/src/multus-cni/bin/multus-daemon"}}}}}
	if err := image.Write(spec, tarball); err != nil {
		t.Fatal(err)
	}
	wantID, err := labimages.ConfigID(tarball, spec.Ref)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{vars: map[string]string{"LAB_DAEMON_IMAGE": tarball}, repoRoot: dir}
	st := &upState{s: labSettings{artifacts: dir}}
	img, ok, err := e.daemonImage(context.Background(), st, io.Discard)
	if err != nil || !ok {
		t.Fatalf("daemonImage = %v, %v", ok, err)
	}
	if img.Ref != spec.Ref || img.ID != wantID || img.Tarball != tarball {
		t.Errorf("image %+v, want ref %s id %s from %s", img, spec.Ref, wantID, tarball)
	}

	e.vars["LAB_DAEMON_IMAGE"] = ""
	if _, ok, err := e.daemonImage(context.Background(), st, io.Discard); ok || err != nil {
		t.Errorf("unset LAB_DAEMON_IMAGE: ok %v err %v, want our own build", ok, err)
	}

	e.vars["LAB_DAEMON_IMAGE"] = bin // a file that is no docker archive
	if _, _, err := e.daemonImage(context.Background(), st, io.Discard); err == nil || !strings.Contains(err.Error(), "LAB_DAEMON_IMAGE") {
		t.Errorf("a non-archive file: err %v, want one naming LAB_DAEMON_IMAGE", err)
	}
}
