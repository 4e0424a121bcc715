#!/usr/bin/env bash
# hack/kind/down.sh: undoes hack/kind/up.sh: deletes the kind cluster, the kind network it
# created and its nftables table, and stops the dockerd hack/kind/docker.sh started (one
# that was already running is left alone). The node image stays in the cache for next time.
# Prints the kubeconfig's path last, as make cluster-down does.
set -euo pipefail
LOG_TAG=kind-down
. "$(dirname "$0")/../lib/common.sh"
NAME=${KIND_CLUSTER:-dilo}
K=$CACHE/kind
KIND=$CACHE/bin/kind-$KIND_VERSION
if docker info >/dev/null 2>&1; then
  if [ -x $KIND ] && $KIND get clusters 2>/dev/null | grep -qx "$NAME"; then
    $KIND delete cluster --name "$NAME" >&2
  fi
  if [ -e $K/run/network-created ]; then
    docker network rm kind >/dev/null 2>&1 || true
    rm -f $K/run/network-created
  fi
fi
# the routes up.sh added through the node (gone with the bridge, unless the network was not ours)
for net in $KIND_SVC_SUBNET $KIND_POD_SUBNET; do ip route del $net dev $KIND_BRIDGE 2>/dev/null || true; done
rm -f $K/run/loaded-$NAME-* $K/run/deployed-$NAME
nft delete table inet dilo-kind 2>/dev/null || true
"$ROOT/hack/kind/docker.sh" --stop
echo $K/kubeconfig
