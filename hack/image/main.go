// Command image writes container images as a docker-archive tarball, with no Docker,
// no registry and no base image: one layer holding the given static binaries (plus
// /etc/passwd, /etc/group and /tmp), on top of nothing, or of the -base layers given
// (tarballs of file trees, such as the few Debian files kube-proxy's iptables needs).
//
//	go run ./hack/image -out dilo.tar \
//	    -file /manager=bin/manager -file /agent=bin/agent -file /target=bin/target \
//	    -image localhost/dilo:dev=/manager
//
// Every -image shares the one layer; REF=ENTRYPOINT[,ARG...] sets its entrypoint.
// The images run as -user (default 65532:65532, distroless' nonroot). The tarball
// loads with `ctr -n k8s.io images import`, `kind load image-archive` or `docker load`.
// It is rewritten only when an image's digest changes (OUT.images lists them), so a
// rebuild of the same binaries keeps the file, and its checksum, as it was.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, " ") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	log.SetFlags(0)
	out := flag.String("out", "images.tar", "the docker-archive tarball to write")
	user := flag.String("user", "65532:65532", "the user:group the images run as")
	var base, files, images list
	flag.Var(&base, "base", "LAYER.tar, repeatable: a layer below the files' one, bottom first")
	flag.Var(&files, "file", "PATH_IN_IMAGE=HOST_FILE, repeatable: a file of the layer (mode 0755)")
	flag.Var(&images, "image", "REF=ENTRYPOINT[,ARG...], repeatable: an image of the tarball")
	flag.Parse()
	if len(files) == 0 || len(images) == 0 {
		log.Fatal("image: need at least one -file and one -image")
	}
	if err := run(*out, *user, base, files, images); err != nil {
		log.Fatalf("image: %v", err)
	}
}

func run(out, user string, base, files, images []string) error {
	var layers []v1.Layer
	for _, b := range base {
		l, err := tarball.LayerFromFile(b)
		if err != nil {
			return fmt.Errorf("-base %s: %w", b, err)
		}
		layers = append(layers, l)
	}
	layerBytes, err := layerTar(files)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	})
	if err != nil {
		return fmt.Errorf("failed to make the layer: %w", err)
	}
	layers = append(layers, layer)
	refs := map[name.Reference]v1.Image{}
	var index []string // "ref digest" lines: the tarball's identity (its bytes vary with map order)
	for _, spec := range images {
		ref, ep, ok := strings.Cut(spec, "=")
		if !ok || ep == "" {
			return fmt.Errorf("-image %q: want REF=ENTRYPOINT[,ARG...]", spec)
		}
		tag, err := name.NewTag(ref, name.StrictValidation)
		if err != nil {
			return fmt.Errorf("-image %q: %w", spec, err)
		}
		img, err := newImage(layers, strings.Split(ep, ","), user)
		if err != nil {
			return err
		}
		refs[tag] = img
		d, err := img.Digest()
		if err != nil {
			return err
		}
		index = append(index, tag.String()+" "+d.String())
	}
	slices.Sort(index)
	id := []byte(strings.Join(index, "\n") + "\n")
	// Rewrite the tarball only when an image changed, so that loaders can skip it.
	if old, err := os.ReadFile(out + ".images"); err == nil && bytes.Equal(old, id) && exists(out) {
		log.Printf("%s unchanged:\n%s", out, id)
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp := out + ".tmp"
	if err := tarball.MultiRefWriteToFile(tmp, refs); err != nil {
		return fmt.Errorf("failed to write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	log.Printf("wrote %s:\n%s", out, id)
	return os.WriteFile(out+".images", id, 0o644)
}

// newImage returns the image of the layers with its entrypoint and user.
func newImage(layers []v1.Layer, entrypoint []string, user string) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, fmt.Errorf("failed to append the layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config.Entrypoint = entrypoint
	// the files at / first, then where a -base layer's programs live
	cf.Config.Env = []string{"PATH=/:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Config.WorkingDir = "/"
	cf.Config.User = user
	return mutate.ConfigFile(img, cf)
}

// layerTar returns the layer: /etc/passwd and /etc/group naming the nonroot user,
// a world-writable /tmp and the files (with their parent directories), in a stable
// order with zero times so that the same binaries give the same digest.
func layerTar(files []string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	dir := func(n string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeDir, Mode: mode, ModTime: epoch})
	}
	file := func(n string, mode int64, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(b)), ModTime: epoch}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	if err := dir("etc/", 0o755); err != nil {
		return nil, err
	}
	if err := dir("tmp/", 0o1777); err != nil {
		return nil, err
	}
	if err := file("etc/passwd", 0o644, []byte("root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")); err != nil {
		return nil, err
	}
	if err := file("etc/group", 0o644, []byte("root:x:0:\nnonroot:x:65532:\n")); err != nil {
		return nil, err
	}
	files = slices.Sorted(slices.Values(files))
	dirs := map[string]bool{"etc/": true, "tmp/": true}
	for _, f := range files {
		dst, src, ok := strings.Cut(f, "=")
		dst = strings.TrimPrefix(filepath.Clean("/"+dst), "/")
		if !ok || dst == "" || src == "" {
			return nil, fmt.Errorf("-file %q: want /PATH=HOST_FILE", f)
		}
		var parents []string
		for d := filepath.Dir(dst); d != "."; d = filepath.Dir(d) {
			parents = append([]string{d + "/"}, parents...)
		}
		for _, d := range parents {
			if !dirs[d] {
				dirs[d] = true
				if err := dir(d, 0o755); err != nil {
					return nil, err
				}
			}
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		if err := file(dst, 0o755, b); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }
