#!/usr/bin/env bash
# hack/kind/up.sh: a single-node kind cluster "dilo" (KIND_CLUSTER) with no registry: kind
# (KIND_VERSION, built from the Go module proxy) on DiLO's node image (hack/kind/node-image.sh,
# or DILO_KIND_NODE_IMAGE), in a Docker engine hack/kind/docker.sh provides. DiLO's and
# cert-manager's images (built from modules) are loaded with `kind load image-archive`, and
# CoreDNS is DiLO's, answering for the cluster only. Prints the kubeconfig's path last.
#
# Idempotent: an existing cluster is kept, and an image archive is loaded again only when
# it changed. hack/kind/down.sh deletes the cluster and restores the host.
#
# Nothing leaves this machine: dockerd adds no NAT (hack/kind/docker.sh), kind's network is
# created here on a fixed bridge out of which this host forwards nothing, the node's
# containerd sends pulls nowhere, and CoreDNS has no upstream.
set -euo pipefail
LOG_TAG=kind
. "$(dirname "$0")/../lib/common.sh"
NAME=${KIND_CLUSTER:-dilo}
K=$CACHE/kind
KIND=$CACHE/bin/kind-$KIND_VERSION
NET_SUBNET=10.252.0.0/24
mkdir -p $K/run

[ "$(id -u)" = 0 ] || die "must run as root"
# Two clusters at once would share ports, bridges and host settings: never.
if alive $CACHE/cluster/pids/kube-apiserver.pid kube-apiserver; then
  die "the local cluster is up: stop it first (make cluster-down)"
fi
"$ROOT/hack/kind/docker.sh"
if [ ! -x $KIND ]; then
  log "building kind $KIND_VERSION"
  GOBIN=$K/gobin CGO_ENABLED=0 go install sigs.k8s.io/kind@$KIND_VERSION
  mv -f $K/gobin/kind $KIND
fi
NODE_IMAGE=${DILO_KIND_NODE_IMAGE:-$("$ROOT/hack/kind/node-image.sh" | tail -1)}
KUBECTL=$("$ROOT/hack/k8s-bin.sh" kubectl | tail -1)/kubectl

# kind uses a network named kind when there is one: this one, on a bridge of a known name.
if ! docker network inspect kind >/dev/null 2>&1; then
  docker network create --driver bridge --subnet $NET_SUBNET --opt com.docker.network.bridge.name=$KIND_BRIDGE kind >/dev/null
  touch $K/run/network-created
fi
nft -f - <<EOF
table inet dilo-kind
delete table inet dilo-kind
table inet dilo-kind {
  chain forward {
    type filter hook forward priority 10; policy accept;
    iifname "$KIND_BRIDGE" oifname != "$KIND_BRIDGE" counter reject comment "nothing from kind's network leaves this machine"
  }
}
EOF

if ! $KIND get clusters 2>/dev/null | grep -qx "$NAME"; then
  # kubeadm's CoreDNS would forward to the host's resolvers: skipped, ours is applied below.
  # The kubelet and kube-proxy keep their OOM score (lowering it needs CAP_SYS_RESOURCE), and
  # the kubelet runs on cgroup v1 hosts too.
  cat > $K/cluster.yaml <<EOF
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  # the node image's bridge CNI config serves $KIND_NODE_POD_CIDR: one node
  disableDefaultCNI: true
  podSubnet: $KIND_POD_SUBNET
  serviceSubnet: $KIND_SVC_SUBNET
kubeadmConfigPatches:
- |
  kind: InitConfiguration
  skipPhases: [preflight, addon/coredns]
- |
  kind: ClusterConfiguration
  etcd:
    local:
      imageTag: "$ETCD_IMAGE_TAG"
- |
  kind: KubeletConfiguration
  failCgroupV1: false
  oomScoreAdj: 0
- |
  kind: KubeProxyConfiguration
  oomScoreAdj: 0
EOF
  log "creating kind cluster $NAME on $NODE_IMAGE"
  $KIND create cluster --name "$NAME" --image "$NODE_IMAGE" --config $K/cluster.yaml --wait 180s \
    --kubeconfig $K/kubeconfig.tmp >&2
  rm -f $K/kubeconfig.tmp $K/run/loaded-$NAME-* $K/run/deployed-$NAME
fi
$KIND get kubeconfig --name "$NAME" > $K/kubeconfig
# This host reaches Services and pods through the node, as on the local cluster (and their
# addresses never follow the default route off the machine).
node_ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$NAME-control-plane")
for net in $KIND_SVC_SUBNET $KIND_POD_SUBNET; do ip route replace $net via $node_ip dev $KIND_BRIDGE; done
KUBECTL="$KUBECTL --kubeconfig $K/kubeconfig"

sed "s/__DNS_SVC_IP__/$KIND_DNS_SVC_IP/; s/__COREDNS_VERSION__/$COREDNS_VERSION/" "$ROOT/hack/cluster/coredns.yaml" | $KUBECTL apply -f - >/dev/null
retry "CoreDNS rollout" 180 $KUBECTL -n kube-system rollout status deploy/coredns --timeout=5s

# DiLO's and cert-manager's images: loaded again only when an archive changed.
"$ROOT/hack/image/build.sh" >/dev/null
"$ROOT/hack/certmanager/build.sh" >/dev/null
for t in $CACHE/images/dilo.tar $CACHE/images/cert-manager.tar; do
  sum=$(sha256sum $t | cut -d' ' -f1) stamp=$K/run/loaded-$NAME-$(basename $t)
  [ "$(cat $stamp 2>/dev/null)" = "$sum" ] && continue
  $KIND load image-archive --name "$NAME" $t >&2
  echo "$sum" > $stamp
  log "loaded $(basename $t)"
done
echo $K/kubeconfig
