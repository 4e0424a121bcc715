#!/usr/bin/env bash
# hack/kind/node-image.sh: builds DiLO's kind node image into the Docker engine
# (hack/kind/docker.sh) with no registry, and prints its name last:
# dilo.local/kind-node:$K8S_VERSION-HASH, HASH naming what it is built from.
#
# It holds what kind's own node image does (kind's images/base, for the files here in
# hack/kind/node, and its node-image build), from sources this machine can reach:
#   - a Debian root file system (debootstrap of KIND_NODE_DEBIAN) with systemd,
#     containerd, runc, the CNI plugins, iptables, nftables, conntrack and kind's tools;
#   - kind's entrypoint, systemd units and scripts; containerd's config for Debian's
#     containerd 1.6, runc behind DiLO's capability wrapper, pulls sent nowhere;
#   - the pinned Kubernetes binaries (hack/k8s-bin.sh): kubeadm, kubelet and kubectl in
#     /usr/bin, and images of the control plane, etcd and kube-proxy named as kubeadm
#     expects, with pause and CoreDNS (hack/cluster/images.sh), preloaded into the node's
#     containerd.
# Idempotent: an image of the same inputs is kept; the debootstrap tarball is cached.
set -euo pipefail
LOG_TAG=kind-node
. "$(dirname "$0")/../lib/common.sh"
W=$CACHE/kind/node
mkdir -p $W

inputs=$( { cat "$ROOT/hack/versions.env" "$ROOT/hack/lib/common.sh" "$0"; find "$ROOT/hack/kind/node" "$ROOT/hack/kind/runc" -type f | sort | xargs cat; } | sha256sum | cut -c1-12)
TAG=dilo.local/kind-node:$K8S_VERSION-$inputs
if docker image inspect $TAG >/dev/null 2>&1; then
  log "$TAG is built"
  echo $TAG
  exit 0
fi

# ---------------------------------------------------------------- Debian
PKGS=systemd,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,bash,ca-certificates,curl,jq,procps,containerd,runc,containernetworking-plugins
base=$W/debootstrap-$KIND_NODE_DEBIAN-$(printf %s "$PKGS" | sha256sum | cut -c1-8).tar
if [ ! -s $base ]; then
  command -v debootstrap >/dev/null || apt_install debootstrap
  mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p; s/^deb \(http[^ ]*debian\) .*/\1/p' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | head -1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  log "debootstrap $KIND_NODE_DEBIAN from $mirror (cold: a few minutes)"
  tmp=$W/debootstrap.tmp; rm -rf $tmp
  debootstrap --variant=minbase --include=$PKGS $KIND_NODE_DEBIAN $tmp "$mirror" >$W/debootstrap.log 2>&1 ||
    { tail -20 $W/debootstrap.log >&2; die "debootstrap failed (log $W/debootstrap.log)"; }
  rm -rf $tmp/var/cache/apt/archives/*.deb $tmp/var/lib/apt/lists/*
  tar --numeric-owner --xattrs -C $tmp -cf $base.tmp . && mv $base.tmp $base
  rm -rf $tmp
fi

# ---------------------------------------------------------------- binaries and images
BIN=$("$ROOT/hack/k8s-bin.sh" kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy etcd | tail -1)
CLUSTER_IMAGES=$("$ROOT/hack/cluster/images.sh" | tail -1)
R=$W/rootfs
rm -rf $R; mkdir -p $R
tar --numeric-owner --xattrs -C $R -xf $base

# kind's base image clean-up: no services but those enabled below, no kernel log reading
find $R/lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
rm -f $R/lib/systemd/system/multi-user.target.wants/* $R/etc/systemd/system/*.wants/* \
  $R/lib/systemd/system/local-fs.target.wants/* $R/lib/systemd/system/sockets.target.wants/*udev* \
  $R/lib/systemd/system/sockets.target.wants/*initctl* $R/lib/systemd/system/basic.target.wants/*
echo ReadKMsg=no >> $R/etc/systemd/journald.conf
ln -sf /usr/lib/systemd/systemd $R/sbin/init

cp -a "$ROOT/hack/kind/node/." $R/
chmod 0755 $R/usr/local/bin/entrypoint $R/kind/bin/*.sh
sed -i "s/__PAUSE_VERSION__/$PAUSE_VERSION/" $R/etc/containerd/config.toml
sed -i "s|__POD_CIDR__|$KIND_NODE_POD_CIDR|" $R/etc/cni/net.d/10-dilo.conflist
closed_registries $R/etc/containerd/certs.d
mkdir -p $R/etc/systemd/system/multi-user.target.wants $R/etc/kubernetes/manifests $R/usr/local/sbin
for s in kubelet containerd undo-mount-hacks; do
  ln -sf /etc/systemd/system/$s.service $R/etc/systemd/system/multi-user.target.wants/$s.service
done
ln -sf /dev/null $R/etc/systemd/system/systemd-binfmt.service
install -m 0755 $BIN/kubeadm $BIN/kubelet $BIN/kubectl $R/usr/bin/
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o $R/usr/local/sbin/dilo-runc ./hack/kind/runc)
printf %s "$K8S_VERSION" > $R/kind/version

# The images kubeadm runs. kube-proxy needs iptables: a layer of Debian's iptables and the
# libraries it links, from this root file system, under every image (one shared blob).
ipt=$W/iptables-layer.tar
files=$(cd $R && {
  # the programs, their extensions (loaded at run time: -m comment, -j MARK...) and settings
  ls -d usr/sbin/*tables* etc/alternatives/*tables* usr/lib/*/xtables usr/lib/*/xtables/* etc/ethertypes etc/protocols etc/xtables etc/xtables/* 2>/dev/null || true
  for l in $(chroot $R ldd /usr/sbin/xtables-nft-multi /usr/sbin/xtables-legacy-multi $(cd $R && ls -d /usr/lib/*/xtables/*.so) 2>/dev/null | grep -v ':$' | grep -o '/[^ ]*\.so[^ ]*' | sort -u); do
    # the library's name in its directory's real place (/lib is a link to /usr/lib), and the
    # file it names: no path through a link, which tar would store a second time
    d=$(chroot $R readlink -f "$(dirname $l)"); echo "${d#/}/$(basename $l)"; r=$(chroot $R readlink -f "$l"); echo "${r#/}"
  done
  for l in bin sbin lib lib64; do [ -L $l ] && echo $l; done; } | sort -u)
tar --numeric-owner -C $R --no-recursion -cf $ipt $files


images=()
for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do images+=(-image registry.k8s.io/$c:$K8S_VERSION=/usr/local/bin/$c); done
images+=(-image registry.k8s.io/etcd:$ETCD_IMAGE_TAG=/usr/local/bin/etcd)
(cd "$ROOT" && CGO_ENABLED=0 go build -o $CACHE/bin/image ./hack/image)
$CACHE/bin/image -out $W/kubernetes.tar -user 0:0 -base $ipt \
  -file /usr/local/bin/kube-apiserver=$BIN/kube-apiserver -file /usr/local/bin/kube-controller-manager=$BIN/kube-controller-manager \
  -file /usr/local/bin/kube-scheduler=$BIN/kube-scheduler -file /usr/local/bin/kube-proxy=$BIN/kube-proxy \
  -file /usr/local/bin/etcd=$BIN/etcd "${images[@]}" 2>/dev/null

# Preload: a containerd of the same Debian release as the node's, with the node's image store
# as its root, imports the images (content only: the node's containerd unpacks on first use).
T=$(mktemp -d /tmp/dilo-preload.XXXX)
cat > $T/config.toml <<EOF
version = 2
root = "$R/var/lib/containerd"
state = "$T/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$T/sock"
[ttrpc]
  address = "$T/sock.ttrpc"
EOF
containerd --config $T/config.toml >$T/log 2>&1 &
ctrd=$!
trap 'kill $ctrd 2>/dev/null || true; rm -rf $T' EXIT
retry "preload containerd" 30 ctr --address $T/sock version
for t in $W/kubernetes.tar $CLUSTER_IMAGES/pause.tar $CLUSTER_IMAGES/cluster.tar; do
  ctr --address $T/sock -n k8s.io images import --no-unpack --all-platforms "$t" >/dev/null
done
log "preloaded: $(ctr --address $T/sock -n k8s.io images ls -q | tr '\n' ' ')"
kill $ctrd; wait $ctrd 2>/dev/null || true
trap - EXIT; rm -rf $T

log "importing $TAG into docker"
tar --numeric-owner --xattrs -C $R -c . | docker import \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' --change 'ENV container=docker' - $TAG.import >/dev/null
# docker import takes no STOPSIGNAL; systemd shuts down on SIGRTMIN+3 (SIGTERM re-executes it)
out=$(printf 'FROM %s\nSTOPSIGNAL SIGRTMIN+3\n' $TAG.import | DOCKER_BUILDKIT=0 docker build -q -t $TAG - 2>&1) ||
  { printf '%s\n' "$out" >&2; die "docker build of $TAG failed"; }
docker rmi $TAG.import >/dev/null
rm -rf $R
for old in $(docker images --format '{{.Repository}}:{{.Tag}}' dilo.local/kind-node); do
  [ "$old" = $TAG ] || docker rmi "$old" >/dev/null 2>&1 || true
done
echo $TAG
