package main

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "hello")
	if err := os.WriteFile(bin, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "images.tar")
	images := []string{"localhost/a:dev=/hello", "localhost/b:dev=/hello,serve,-v"}
	if err := run(out, "65532:65532", nil, []string{"/hello=" + bin}, images); err != nil {
		t.Fatal(err)
	}

	for ref, wantEP := range map[string][]string{"localhost/a:dev": {"/hello"}, "localhost/b:dev": {"/hello", "serve", "-v"}} {
		tag, _ := name.NewTag(ref)
		img, err := tarball.ImageFromPath(out, &tag)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Config.User != "65532:65532" || !slices.Equal(cf.Config.Entrypoint, wantEP) {
			t.Errorf("%s: user %q entrypoint %q; want 65532:65532 and %q", ref, cf.Config.User, cf.Config.Entrypoint, wantEP)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 1 {
			t.Fatalf("%s: %d layers, %v; want 1", ref, len(layers), err)
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, h.Name)
		}
		rc.Close()
		if want := []string{"etc/", "tmp/", "etc/passwd", "etc/group", "hello"}; !slices.Equal(names, want) {
			t.Errorf("%s: layer holds %q; want %q", ref, names, want)
		}
	}

	// The same input again: the tarball is kept as it was.
	before, _ := os.Stat(out)
	if err := run(out, "65532:65532", nil, []string{"/hello=" + bin}, images); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(out); !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("tarball rewritten for the same images")
	}
}

func TestRunRejectsBadSpecs(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ files, images []string }{
		{[]string{"/a/b="}, []string{"localhost/a:dev=/a/b"}},
		{[]string{"/a"}, []string{"localhost/a:dev=/a"}},
		{[]string{"/a=" + filepath.Join(dir, "missing")}, []string{"localhost/a:dev=/a"}},
	} {
		if err := run(filepath.Join(dir, "x.tar"), "0:0", nil, tc.files, tc.images); err == nil {
			t.Errorf("run(%q, %q) succeeded; want an error", tc.files, tc.images)
		}
	}
	bin := filepath.Join(dir, "a")
	os.WriteFile(bin, nil, 0o755)
	for _, img := range []string{"no-entrypoint", "localhost/a:dev=", "UPPER/a:dev=/a"} {
		if err := run(filepath.Join(dir, "x.tar"), "0:0", nil, []string{"/a=" + bin}, []string{img}); err == nil {
			t.Errorf("-image %q accepted; want an error", img)
		}
	}
}

// An image on a -base layer, with a file deeper than /: both layers, bottom first, and
// the file's parent directories.
func TestRunOnBase(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.tar")
	f, err := os.Create(base)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	tw.WriteHeader(&tar.Header{Name: "usr/sbin/iptables", Typeflag: tar.TypeReg, Mode: 0o755})
	tw.Close()
	f.Close()
	bin := filepath.Join(dir, "kube-proxy")
	os.WriteFile(bin, []byte("x"), 0o755)
	out := filepath.Join(dir, "images.tar")
	if err := run(out, "0:0", []string{base}, []string{"/usr/local/bin/kube-proxy=" + bin}, []string{"registry.k8s.io/kube-proxy:v1=/usr/local/bin/kube-proxy"}); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("registry.k8s.io/kube-proxy:v1")
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("%d layers, %v; want 2", len(layers), err)
	}
	var got [][]string
	for _, l := range layers {
		got = append(got, layerNames(t, l))
	}
	want := [][]string{{"usr/sbin/iptables"}, {"etc/", "tmp/", "etc/passwd", "etc/group", "usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/kube-proxy"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("layers (-want +got):\n%s", diff)
	}
}

func layerNames(t *testing.T, l v1.Layer) []string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var names []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}
